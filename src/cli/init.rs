//! `callplan init`: writes a commented plan to start from, for one platform. Every template
//! passes `callplan check` and runs green with `callplan run PATH --sandbox` (the integration
//! tests run both), so a new user's first command works before they change a line.

use std::io::Write as _;
use std::path::Path;

use super::Exit;

/// The schema's file name beside the plan, where the modeline points.
pub(super) const SCHEMA_FILE: &str = "callplan.v1.schema.json";

/// Which plan to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// Genesys Cloud CX: an OAuth client (client credentials) calls on behalf of an agent.
    Genesys,
    /// NICE CXone: an access key starts an agent session and dials from it.
    Cxone,
    /// Any HTTP API, with OAuth2 client credentials.
    Http,
}

impl Template {
    /// The plan's text, modeline first: it points at the schema `init` writes beside the plan
    /// (a path relative to the plan, which the YAML language server resolves offline).
    pub fn text(self) -> String {
        let body = match self {
            Template::Genesys => GENESYS,
            Template::Cxone => CXONE,
            Template::Http => HTTP,
        };
        format!("# yaml-language-server: $schema=./{SCHEMA_FILE}\n{body}")
    }

    /// The secrets' environment variables, for the message after writing.
    fn env(self) -> &'static str {
        match self {
            Template::Genesys => "GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET",
            Template::Cxone => {
                "CXONE_ACCESS_KEY_ID, CXONE_ACCESS_KEY_SECRET, CXONE_CLIENT_ID and CXONE_CLIENT_SECRET"
            }
            Template::Http => "API_CLIENT_ID and API_CLIENT_SECRET",
        }
    }
}

/// Writes `template` to `path`; an existing file is kept unless `force`.
pub(super) fn init(
    path: &Path,
    template: Template,
    force: bool,
    out: &mut dyn std::io::Write,
) -> Exit {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return Exit::Invalid;
    }
    // `create_new` rather than a check first: a file that appears in between is not clobbered.
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let written = options
        .open(path)
        .and_then(|mut file| file.write_all(template.text().as_bytes()));
    match written {
        Ok(()) => {
            let schema = write_schema(path);
            let _ = writeln!(
                out,
                "wrote {shown}\n{schema}\
                 next: callplan check {shown}\n      \
                 callplan run {shown} --sandbox      (the built-in sandbox; nothing leaves this machine)\n      \
                 callplan run {shown}                (for real: set {} first)",
                template.env()
            );
            Exit::Success
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("error: {shown} already exists; pass --force to overwrite it");
            Exit::Invalid
        }
        Err(e) => {
            eprintln!("error: cannot write {shown}: {e}");
            Exit::Invalid
        }
    }
}

/// Writes the plan format's schema beside the plan, where its modeline points; says what it did.
/// A schema already there is kept when it is the same, and replaced when it is another version's
/// (it is callplan's own generated file, never edited by hand).
fn write_schema(plan: &Path) -> String {
    let schema = plan
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(SCHEMA_FILE);
    let shown = schema.display();
    let committed = crate::plan::schema::COMMITTED;
    match std::fs::read_to_string(&schema) {
        Ok(existing) if existing == committed => format!("kept {shown} (up to date)\n"),
        _ => match crate::report::write_atomic(&schema, committed) {
            Ok(()) => {
                format!("wrote {shown} (the schema editors read through the plan's first line)\n")
            }
            Err(e) => format!(
                "warning: cannot write {shown} ({e}); editors will not find the schema: `callplan schema > {shown}`\n"
            ),
        },
    }
}

const GENESYS: &str = r#"#
# A callplan plan for Genesys Cloud CX: check that an agent is on queue, call a test number on the
# agent's behalf, wait until it is answered, and always hang up.
#
#   callplan check plan.yaml              validate it; nothing is sent
#   callplan run plan.yaml --sandbox      run it against the built-in emulator (no credentials)
#   callplan run plan.yaml                run it for real (set the secrets below first)
#
# Every key: docs/plan-format.md. Every action and its parameters: docs/actions.md.

version: 1
name: genesys-agent-call
description: Call a test number on behalf of an agent, wait until it is answered, hang up.

# Values the steps read as {{ vars.NAME }}. Override one with --var NAME=VALUE or the environment
# variable CALLPLAN_VAR_<NAME>.
vars:
  # The agent who places the call: a Genesys user id (this one is the sandbox's agent).
  agent_user_id: 00000000-0000-4000-8000-000000000001
  # Who is called, in E.164. Use a test line you own.
  destination: "+13175550100"

# Secrets are read when the plan runs (environment variables, or files) and masked in every
# output; never write one in the plan. Steps read them as {{ secrets.NAME }}.
secrets:
  gc_client_id: { env: GENESYS_CLIENT_ID }
  gc_client_secret: { env: GENESYS_CLIENT_SECRET }

# The platforms the steps talk to, and how to log in. An OAuth client with the client-credentials
# grant (Admin > Integrations > OAuth) and the roles its actions need; `region` is your org's.
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{ secrets.gc_client_id }}"
      client_secret: "{{ secrets.gc_client_secret }}"
    # Stay well below the org's API limit.
    rate_limit: { requests: 300, per: 1m }

# The safety net for real dials: a number that matches no pattern (each * is one digit) is
# refused before anything is sent, and a run places at most max_calls calls.
guard:
  allow_destinations: ["+1317555****"]
  max_calls: 1

# What every step gets unless it says otherwise: a time limit, stop the run at the first failure,
# and retry what is safe to retry (a request that may have created a call is never sent twice).
defaults:
  timeout: 15s
  on_error: abort
  retry: { attempts: 3, backoff: exponential, initial: 1s, max: 30s }

# The steps run in order. Each names a provider and an action, fills the action's parameters in
# `with`, checks the answer with `expect`, and keeps values for later steps with `save` (read as
# {{ steps.ID.NAME }}).
steps:
  - id: agent
    name: The agent is on queue
    provider: gc
    action: users.routing_status
    with: { user_id: "{{ vars.agent_user_id }}" }
    expect:
      - response.status == 200
    save:
      status: "{{ response.body.status }}"

  - id: dial
    name: Call the number on behalf of the agent
    provider: gc
    action: calls.create_for_user
    with:
      user_id: "{{ vars.agent_user_id }}"
      phoneNumber: "{{ vars.destination }}"
    expect:
      - response.status == 200
    save:
      conversation_id: "{{ response.body.id }}"

  - id: connected
    name: Wait until the call is answered
    provider: gc
    action: calls.wait
    with:
      conversation_id: "{{ steps.dial.conversation_id }}"
      until: connected
      timeout: 60s
    timeout: 75s
    expect:
      - response.call.state == "connected"
    # An unanswered call fails the run, but the hang-up below still runs.
    on_error: continue

  # `always` steps run even after a failure, a timeout or Ctrl-C: no call is left ringing.
  # `calls.hang_up` hangs up the customer the way Genesys says to, with client credentials too.
  - id: hangup
    name: Hang up
    provider: gc
    action: calls.hang_up
    if: steps.dial.outcome == "passed"
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
"#;

const CXONE: &str = r#"#
# A callplan plan for NICE CXone: start an agent session, dial a test number from it, wait until
# the call is active, and always end the contact and the session.
#
#   callplan check plan.yaml              validate it; nothing is sent
#   callplan run plan.yaml --sandbox      run it against the built-in emulator (no credentials)
#   callplan run plan.yaml                run it for real (set the secrets below first)
#
# Every key: docs/plan-format.md. Every action and its parameters: docs/actions.md.

version: 1
name: cxone-agent-dial
description: Dial a test number from an agent session, wait until it is active, hang up.

# Values the steps read as {{ vars.NAME }}. Override one with --var NAME=VALUE or the environment
# variable CALLPLAN_VAR_<NAME>.
vars:
  # The agent's station (softphone) id, and the outbound skill the call is placed on.
  station_id: "12345"
  skill_id: 4000123
  # Who is called, in E.164. Use a test line you own.
  destination: "+13175550100"

# Secrets are read when the plan runs (environment variables, or files) and masked in every
# output; never write one in the plan. Steps read them as {{ secrets.NAME }}.
secrets:
  access_key_id: { env: CXONE_ACCESS_KEY_ID }
  access_key_secret: { env: CXONE_ACCESS_KEY_SECRET }
  app_client_id: { env: CXONE_CLIENT_ID }
  app_client_secret: { env: CXONE_CLIENT_SECRET }

# The platforms the steps talk to, and how to log in: the agent's access key and your registered
# application's client. The API endpoint is discovered from the login.
providers:
  cx:
    type: nice-cxone
    auth:
      grant: password
      access_key_id: "{{ secrets.access_key_id }}"
      access_key_secret: "{{ secrets.access_key_secret }}"
      client_id: "{{ secrets.app_client_id }}"
      client_secret: "{{ secrets.app_client_secret }}"

# The safety net for real dials: a number that matches no pattern (each * is one digit) is
# refused before anything is sent, and a run places at most max_calls calls.
guard:
  allow_destinations: ["+1317555****"]
  max_calls: 1

# What every step gets unless it says otherwise.
defaults:
  timeout: 30s
  on_error: abort

# The steps run in order. Each names a provider and an action, fills the action's parameters in
# `with`, checks the answer with `expect`, and keeps values for later steps with `save` (read as
# {{ steps.ID.NAME }}).
steps:
  - id: session
    name: Start the agent session
    provider: cx
    action: agent_sessions.start
    with:
      stationId: "{{ vars.station_id }}"
    expect:
      - response.status == 202
    save:
      session_id: "{{ response.body.sessionId }}"

  - id: dial
    name: Dial the number
    provider: cx
    action: agent_sessions.dial
    with:
      session_id: "{{ steps.session.session_id }}"
      phoneNumber: "{{ vars.destination }}"
      skillId: "{{ vars.skill_id }}"
    expect:
      - response.status == 202

  - id: active
    name: Wait until the call is active
    provider: cx
    action: calls.wait
    with:
      session_id: "{{ steps.session.session_id }}"
      until: Active
      timeout: 60s
    timeout: 75s
    save:
      contact_id: "{{ response.call.contact_id }}"
    # An unanswered call fails the run, but the steps below still run.
    on_error: continue

  # `always` steps run even after a failure, a timeout or Ctrl-C: no call or session is left open.
  - id: end_contact
    name: Hang up
    provider: cx
    action: agent_sessions.end_contact
    if: steps.active.outcome == "passed"
    with:
      session_id: "{{ steps.session.session_id }}"
      contact_id: "{{ steps.active.contact_id }}"
    always: true

  - id: logout
    name: End the session
    provider: cx
    action: agent_sessions.end
    if: steps.session.outcome == "passed"
    with:
      session_id: "{{ steps.session.session_id }}"
      endContacts: true
    always: true
"#;

const HTTP: &str = r#"#
# A callplan plan for any HTTP API: check that it is up, post a record, and read the answer.
# Replace the paths and bodies with your API's.
#
#   callplan check plan.yaml              validate it; nothing is sent
#   callplan run plan.yaml --sandbox      run it against the built-in echo API (no credentials)
#   callplan run plan.yaml                run it for real (set the secrets below first)
#
# Every key: docs/plan-format.md. Every action and its parameters: docs/actions.md.

version: 1
name: http-smoke
description: Check that the API is up, post a test record, check the answer.

# Values the steps read as {{ vars.NAME }}. Override one with --var NAME=VALUE or the environment
# variable CALLPLAN_VAR_<NAME>.
vars:
  destination: "+13175550100"

# Secrets are read when the plan runs (environment variables, or files) and masked in every
# output; never write one in the plan. Steps read them as {{ secrets.NAME }}.
secrets:
  api_client_id: { env: API_CLIENT_ID }
  api_client_secret: { env: API_CLIENT_SECRET }

# The platforms the steps talk to, and how to log in: here an OAuth2 client-credentials token,
# fetched once and sent as a bearer token. Headers are sent with every request.
providers:
  api:
    type: http
    base_url: https://api.example.com/v1
    auth:
      type: oauth2_client_credentials
      token_url: https://login.example.com/oauth2/token
      client_id: "{{ secrets.api_client_id }}"
      client_secret: "{{ secrets.api_client_secret }}"
    headers:
      X-Run-Id: "{{ run.id }}"
    timeout: 10s

# What every step gets unless it says otherwise.
defaults:
  timeout: 15s
  on_error: abort
  retry: { attempts: 3, backoff: exponential, initial: 1s, max: 30s }

# The steps run in order. Each names a provider and an action, fills the action's parameters in
# `with`, checks the answer with `expect`, and keeps values for later steps with `save` (read as
# {{ steps.ID.NAME }}).
steps:
  - id: health
    name: The API is up
    provider: api
    action: request
    with: { method: GET, path: /health }
    expect:
      - response.status == 200

  - id: record
    name: Post a test record
    provider: api
    action: request
    with:
      method: POST
      path: /smoke-tests
      body:
        to: "{{ vars.destination }}"
        run: "{{ run.id }}"
    expect:
      - response.status in [200, 201]
      - response.elapsed_ms < 5000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_starts_with_the_schema_modeline() {
        for template in [Template::Genesys, Template::Cxone, Template::Http] {
            let text = template.text();
            let first = text.lines().next().unwrap_or_default();
            assert_eq!(
                first,
                "# yaml-language-server: $schema=./callplan.v1.schema.json"
            );
        }
    }
}
