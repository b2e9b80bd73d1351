// NICE's own CXone agent SDK (@nice-devone/*-sdk 25.1.2, from npm) against `callplan sandbox`:
// the vendor's production client must not be able to tell the sandbox from the platform.
//
//   npm ci && npm test            (from tests/nice-sdk; CALLPLAN_BIN defaults to
//                                  ../../target/debug/callplan)
//
// Two modes, each in a process of its own (the SDK keeps singletons and storage) against a
// sandbox of its own: `direct` (a token from the sandbox's password grant, handed to the SDK)
// and `login` (the SDK's own login: discovery, authorize, the code with PKCE, JWKS,
// cxone-configuration, whoami, refresh, token exchange). Both then drive an agent session
// through the SDK's classes and check, on the sandbox's request log, what the SDK asked for and
// what it was answered. Every step prints PASS or FAIL; nothing may leave 127.0.0.1 (see
// shims.mjs). Exit status: 0 when every step of both modes passed.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import net from 'node:net';

import { forget, install, seen } from './shims.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** How long any one thing may take before its step fails. */
const DEADLINE_MS = 30_000;
/** How long a whole mode may take. */
const MODE_LIMIT_MS = 120_000;
/** A number the sandbox answers (docs/sandbox.md: 555-0100 connects and stays up). */
const DESTINATION = '3175550100';
const SKILL = 4242;
const AGENT = 31337;
/** The default public client of the sandbox; any loopback redirect URI is accepted. */
const CLIENT_ID = 'sandbox-agent-app';
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

const modes = ['direct', 'login'];

// ---------------------------------------------------------------------------------------------
// The runner: one process per mode.

async function runner() {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  for (const mode of modes) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    const closed = new Promise((resolve) => child.on('close', resolve));
    let modeFailed = 0;
    // A mode that hangs is a failure, not a stuck CI job.
    const watchdog = setTimeout(() => {
      console.log(`FAIL ${mode}: still running after ${MODE_LIMIT_MS / 1000} s; stopped`);
      modeFailed += 1;
      child.kill('SIGKILL');
    }, MODE_LIMIT_MS);
    const lines = readline.createInterface({ input: child.stdout });
    for await (const line of lines) {
      console.log(line);
      if (line.startsWith('PASS ')) passed += 1;
      if (line.startsWith('FAIL ')) modeFailed += 1;
    }
    failed += modeFailed;
    const code = await closed;
    clearTimeout(watchdog);
    if (code !== 0 && modeFailed === 0) {
      console.log(`FAIL ${mode}: the mode exited with ${code} without a failed step`);
      failed += 1;
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`NICE agent SDK test (${seconds} s): ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------
// Helpers

class Aborted extends Error {}

let failedSteps = 0;

/** Runs a step; prints PASS or FAIL. A failed step ends the mode (later steps need it). */
async function step(mode, name, fn) {
  try {
    const detail = await fn();
    console.log(`PASS ${mode}: ${name}${detail ? ` (${detail})` : ''}`);
  } catch (e) {
    failedSteps += 1;
    console.log(`FAIL ${mode}: ${name}: ${e?.message ?? e}`);
    throw new Aborted(name);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Waits until `probe` returns something truthy; fails after the deadline. */
async function waitFor(what, probe, ms = DEADLINE_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts `callplan sandbox` on a free loopback port; resolves with its URL and process. */
async function startSandbox() {
  const bin = path.resolve(
    process.env.CALLPLAN_BIN ?? path.join(here, '..', '..', 'target', 'debug', 'callplan'),
  );
  const child = spawn(
    bin,
    ['sandbox', '--addr', '127.0.0.1:0', '--config', path.join(here, 'sandbox.yaml')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${bin} exited with ${code}`)));
    lines.once('line', (line) => {
      const found = line.match(/http:\/\/127\.0\.0\.1:\d+/);
      found ? resolve(found[0]) : reject(new Error(`unexpected first line: ${line}`));
    });
  });
  child.removeAllListeners('exit');
  // However this process ends, the sandbox ends with it.
  process.on('exit', () => child.kill('SIGTERM'));
  return { url, child };
}

// ---------------------------------------------------------------------------------------------
// One mode

async function runMode(mode) {
  const sandbox = await startSandbox();
  const origin = sandbox.url;
  install(origin);
  // The guards must be able to fail: neither attempt below leaves the machine (both are
  // refused before any packet is sent).
  await step(mode, 'the egress guards refuse a fetch and a socket to elsewhere', async () => {
    const fetched = await fetch('https://api-sbx1.example.invalid/ping').then(
      () => 'fetched',
      (e) => e.message,
    );
    check(/egress refused/.test(fetched), `fetch: ${fetched}`);
    let connected = 'connected';
    try {
      net.connect({ host: '192.0.2.1', port: 9 }).destroy();
    } catch (e) {
      connected = e.message;
    }
    check(/refused by the test/.test(connected), `socket: ${connected}`);
    check(seen.refused.length === 1 && seen.egress.length === 1, 'the guards did not record them');
    forget();
  });
  const { auth, core, common, agent, acd } = require('./sdk.bundle.cjs');
  // The SDK polls only in the leader tab.
  common.CXoneLeaderElector.instance.isActiveLeader = true;

  /** The sandbox's request log. */
  const log = async () => (await (await fetch(`${origin}/_sandbox/requests`)).json()).requests;
  /** Waits for a request whose routed path matches, answered 2xx; returns it. */
  const answered = (what, method, pattern) =>
    waitFor(what, async () =>
      (await log()).find(
        (r) => r.method === method && pattern.test(r.routed) && r.status >= 200 && r.status < 300,
      ),
    );

  const sessionEvents = [];
  const contactEvents = [];
  let sessionId = '';
  let contactId = '';

  try {
    if (mode === 'direct') {
      await step(mode, "token from the sandbox's password grant, verified by the SDK", async () => {
        const response = await fetch(`${origin}/auth/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${btoa('sandbox-app:sandbox-app-secret')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=password&username=sandbox-access-key&password=sandbox-access-secret',
        });
        check(response.status === 200, `password grant: ${response.status}`);
        const body = await response.json();
        auth.CXoneAuth.instance.init({ cxoneHostname: origin, clientId: 'sandbox-app' });
        const valid = await auth.CXoneAuth.instance.verifyJwt({ data: body });
        check(valid === true, 'the SDK did not verify the RS256 id_token against the JWKS');
        // The SDK's own parsing of the token and its id_token's claims.
        auth.CXoneAuth.instance.parseAndSaveAuthToken({ data: body });
        const user = auth.CXoneUser.instance.getUserInfo();
        check(Number(user.icAgentId) === AGENT, `icAgentId ${user.icAgentId}`);
        check(!user.tenant, 'a tenant claim would switch the SDK to User Hub hosts');
        // Direct mode: the API base is the sandbox (no whoami).
        const config = { acdApiBaseUri: origin };
        auth.CXoneAuth.instance.setCXoneConfig(config);
        core.AdminService.instance.initialize(body.access_token, config, user);
        return `agent ${user.icAgentId}, user ${user.userId}`;
      });
    } else {
      await login(mode, { auth, origin, answered, log });
    }

    await step(mode, 'full client: CXoneAcdClient.initAcdEngagement()', async () => {
      acd.CXoneAcdClient.instance.initAcdEngagement();
      common.CXoneLeaderElector.instance.isActiveLeader = true;
      const session = acd.CXoneAcdClient.instance.session;
      check(session instanceof acd.CXoneSession, 'no CXoneSession');
      session.onAgentSessionChange.subscribe((change) => sessionEvents.push(change));
      core.ACDSessionManager.instance.callContactEventSubject.subscribe((e) =>
        contactEvents.push(e),
      );
    });
    const session = acd.CXoneAcdClient.instance.session;

    await step(mode, 'start session (POST /InContactAPI/services/v23.0/agent-sessions)', async () => {
      const response = await session.startSession({
        stationId: 'station-1',
        stationPhoneNumber: '4155550100',
      });
      sessionId = response.data.sessionId;
      check(sessionId, 'no sessionId');
      return `session ${sessionId}`;
    });

    await step(mode, 'agent-settings (GET v30.0/agents/{id}/agent-settings)', async () => {
      const request = await answered(
        'agent-settings',
        'GET',
        new RegExp(`/v30\\.0/agents/${AGENT}/agent-settings$`),
      );
      const settings = await core.AdminService.instance.getAgentSettings();
      check(settings.enableUIQueue === false, `enableUIQueue ${settings.enableUIQueue}`);
      return `${request.status}`;
    });

    await step(mode, 'get-next-event: AgentSessionStart', async () => {
      const start = await waitFor('SessionStart', () =>
        sessionEvents.find((c) => c.status === common.AgentSessionStatus.SESSION_START),
      );
      check(start.data.sessionId === sessionId, `SessionId ${start.data.sessionId}`);
      check(Number(start.data.agentId) === AGENT, `AgentId ${start.data.agentId}`);
      check(start.data.stationId === 'station-1', `StationId ${start.data.stationId}`);
      check(start.data.busNo, 'no BusNo');
      return `AgentId ${start.data.agentId}, BusNo ${start.data.busNo}`;
    });

    await step(mode, `dial-phone ${DESTINATION} on skill ${SKILL}`, async () => {
      await new agent.VoiceService().dialPhone({ phoneNumber: DESTINATION, skillId: SKILL });
      const request = await answered('dial-phone', 'POST', /\/agent-sessions\/[^/]+\/dial-phone$/);
      return `${request.status}, sent as ${request.headers['content-type']}`;
    });

    await step(mode, 'CallContactEvent Active', async () => {
      const active = await waitFor('Active', () => contactEvents.find((e) => e.status === 'Active'));
      check(active.dnis === DESTINATION, `DNIS ${active.dnis}`);
      check(active.finalState === false, `finalState ${active.finalState}`);
      check(active.startTimeUtc instanceof Date && !isNaN(active.startTimeUtc), 'StartTimeUTC');
      contactId = String(active.contactId);
      return `contact ${contactId}`;
    });

    await step(mode, 'end contact (POST …/interactions/{contactId}/end)', async () => {
      await new agent.VoiceControlService().endContact(contactId);
      const request = await answered('end contact', 'POST', /\/interactions\/\d+\/end$/);
      return `${request.status}`;
    });

    await step(mode, 'CallContactEvent Disconnected with FinalState', async () => {
      const ended = await waitFor('Disconnected', () =>
        contactEvents.find((e) => e.status === 'Disconnected' && e.finalState === true),
      );
      check(String(ended.contactId) === contactId, `contact ${ended.contactId}`);
      return `finalState ${ended.finalState}, disconnectCode ${ended.disconnectCode}`;
    });

    await step(mode, 'end session (DELETE with forceLogoff/endContacts in the body)', async () => {
      const response = await session.endSession({
        forceLogoff: true,
        endContacts: true,
        ignorePersonalQueue: false,
      });
      check(response.status === 202, `status ${response.status}`);
      const sent = seen.fetches.find((f) => f.method === 'DELETE');
      const body = JSON.parse(sent.body);
      check(body.forceLogoff === true && body.endContacts === true, `body ${sent.body}`);
      return `body ${sent.body}`;
    });

    await step(mode, 'SessionEnd', async () => {
      await waitFor('SessionEnd', () =>
        sessionEvents.find((c) => c.status === common.AgentSessionStatus.SESSION_END),
      );
    });

    const fullClient = [
      ['business unit', /\/v23\.0\/business-unit$/],
      ['indicators', new RegExp(`/v23\\.0/agents/${AGENT}/indicators$`)],
      ['server time', /\/v23\.0\/server-time$/],
      ['skill', new RegExp(`/v23\\.0/skills/${SKILL}$`)],
      ['dispositions', new RegExp(`/v12\\.0/skills/${SKILL}/dispositions$`)],
      ['tags', new RegExp(`/v12\\.0/skills/${SKILL}/tags$`)],
    ];
    for (const [what, pattern] of fullClient) {
      await step(mode, `full client reads the ${what}`, async () => {
        const request = await answered(what, 'GET', pattern);
        return `${request.method} ${request.path} → ${request.status}`;
      });
    }

    await step(mode, "the sandbox saw the SDK's headers on every ACD call", async () => {
      const acdCalls = (await log()).filter((r) => r.routed.startsWith('/inContactAPI/'));
      check(acdCalls.length > 0, 'no ACD call logged');
      const without = acdCalls.filter(
        (r) => r.headers['originating-service-identifier'] !== 'CXoneAgent',
      );
      check(without.length === 0, `without Originating-Service-Identifier: ${JSON.stringify(without)}`);
      const spellings = new Set(acdCalls.map((r) => r.path.split('/')[1]));
      // Optional services the sandbox does not serve answer 404; the SDK does without them.
      const unserved = new Set(
        acdCalls.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.routed} ${r.status}`),
      );
      const notes = unserved.size ? `; not served: ${[...unserved].join(', ')}` : '';
      return `${acdCalls.length} calls, paths sent as ${[...spellings].join(', ')}${notes}`;
    });
  } catch (e) {
    if (!(e instanceof Aborted)) {
      failedSteps += 1;
      console.log(`FAIL ${mode}: unexpected error: ${e?.stack ?? e}`);
    }
  } finally {
    try {
      await step(mode, 'no URL outside 127.0.0.1 was fetched', async () => {
        check(seen.refused.length === 0, `refused: ${seen.refused.join(', ')}`);
        const rewritten = seen.rewritten.length ? `, whoami sent to the sandbox ${seen.rewritten.length}×` : '';
        const invalid = seen.invalid.length
          ? `, ${seen.invalid.length} invalid URLs not sent (${[...new Set(seen.invalid)].join(', ')})`
          : '';
        return `${seen.fetches.length} fetches${rewritten}${invalid}`;
      });
    } catch {
      // Counted by `step`.
    }
    try {
      await step(mode, 'socket check: every connection was to 127.0.0.1 or ::1', async () => {
        check(seen.egress.length === 0, `egress: ${seen.egress.join(', ')}`);
        check(seen.sockets.length > 0, 'no socket seen: the socket check is not working');
        check(seen.websockets.length === 0, `WebSockets: ${seen.websockets.join(', ')}`);
        const addresses = new Set(seen.sockets.map((s) => s.address));
        return `${seen.connects.length} connection attempts, ${seen.sockets.length} connected, all to ${[...addresses].join(', ')}`;
      });
    } catch {
      // Counted by `step`.
    }
    sandbox.child.kill('SIGTERM');
    // The SDK leaves timers behind (its refresh-token timer runs for an hour).
    process.exit(failedSteps === 0 ? 0 : 1);
  }
}

/** The SDK's own login: discovery, authorize, code + PKCE, JWKS, cxone-configuration, whoami,
 * refresh and token exchange. */
async function login(mode, { auth, origin, answered, log }) {
  const cxoneAuth = auth.CXoneAuth.instance;
  const statuses = [];
  cxoneAuth.onAuthStatusChange.subscribe((change) => statuses.push(change));
  cxoneAuth.init({ cxoneHostname: origin, clientId: CLIENT_ID, redirectUri: REDIRECT_URI });
  let authorizeUrl = '';
  let code = '';

  await step(mode, 'discovery (openid-configuration with jwks_uri) and the authorize URL', async () => {
    authorizeUrl = await cxoneAuth.getAuthorizeUrl('page', 'S256');
    check(authorizeUrl.startsWith(`${origin}/auth/authorize?`), authorizeUrl);
    check(/code_challenge_method=S256/.test(authorizeUrl), authorizeUrl);
    await answered('discovery', 'GET', /^\/\.well-known\/openid-configuration$/);
  });

  await step(mode, 'authorize → code (no login page: the client is signed in at once)', async () => {
    const response = await fetch(authorizeUrl, { redirect: 'manual' });
    check(response.status === 302, `status ${response.status}`);
    const location = new URL(response.headers.get('location'));
    check(location.origin + location.pathname === REDIRECT_URI, location.href);
    check(location.searchParams.get('state') === 'aaxx-11', `state ${location.search}`);
    code = location.searchParams.get('code');
    check(code, 'no code');
  });

  await step(mode, 'token by code + PKCE, RS256 id_token verified against the JWKS, cxone-configuration, whoami', async () => {
    const token = await Promise.race([
      cxoneAuth.getAccessTokenByCode({ clientId: CLIENT_ID, code }),
      waitFor('a failed login', () => statuses.find((s) => s.status === 'AuthenticatedFailed')).then(
        (s) => Promise.reject(new Error(`login failed: ${JSON.stringify(s.response ?? s)}`)),
      ),
    ]);
    check(token.accessToken, 'no access token');
    await answered('the token', 'POST', /^\/auth\/token$/);
    await answered('the JWKS', 'GET', /^\/auth\/jwks$/);
    await answered('cxone-configuration', 'GET', /^\/\.well-known\/cxone-configuration$/);
    const whoami = await answered('whoami', 'POST', /^\/InContactAuthorizationServer\/Token\/whoami$/);
    const config = cxoneAuth.getCXoneConfig();
    check(config.acdApiBaseUri === origin, `acdApiBaseUri ${config.acdApiBaseUri}`);
    const user = auth.CXoneUser.instance.getUserInfo();
    check(Number(user.icAgentId) === AGENT, `icAgentId ${user.icAgentId}`);
    check(!user.tenant, 'a tenant claim would switch the SDK to User Hub hosts');
    return `whoami sent as ${whoami.path}, API base ${config.acdApiBaseUri}`;
  });

  await step(mode, 'refresh (no client_id, as the SDK sends it)', async () => {
    const before = cxoneAuth.getAuthToken().accessToken;
    await cxoneAuth.getRefreshToken();
    await waitFor('RefreshTokenSuccess', () =>
      statuses.find((s) => s.status === 'RefreshTokenSuccess'),
    );
    const after = cxoneAuth.getAuthToken().accessToken;
    check(after && after !== before, 'the access token did not change');
    const sent = seen.fetches.filter((f) => /grant_type=refresh_token/.test(f.body ?? ''));
    check(sent.length === 1 && !/client_id/.test(sent[0].body), `sent ${sent[0]?.body}`);
  });

  await step(mode, 'token exchange (status 200, fresh tokens)', async () => {
    const before = cxoneAuth.getAuthToken().accessToken;
    const token = await cxoneAuth.getAccessTokenByToken({ accessToken: before });
    check(token.accessToken && token.accessToken !== before, 'no new access token');
    const sent = seen.fetches.filter((f) => /grant-type:token-exchange/.test(f.body ?? ''));
    check(sent.length === 1, `${sent.length} exchanges sent`);
    const tokens = (await log()).filter((r) => r.routed === '/auth/token');
    check(
      tokens.length === 3 && tokens.every((r) => r.status === 200),
      `token requests: ${tokens.map((r) => r.status).join(', ')}`,
    );
    return 'code, refresh and exchange all answered 200';
  });
}

const mode = process.argv[2];
if (!mode) {
  await runner();
} else if (modes.includes(mode)) {
  await runMode(mode);
} else {
  console.error(`unknown mode ${mode}; one of ${modes.join(', ')}`);
  process.exit(2);
}
