// The browser globals NICE's agent SDK needs under Node 20, and the guards that keep it on
// 127.0.0.1 (shared/reference/nice-cxone-agent-sdk.md §2):
//
// - `window` (= globalThis, with an EventTarget's listeners), in-memory `localStorage` and
//   `sessionStorage`;
// - a `Worker` that runs the SDK's Blob-URL worker code in this thread, answering its
//   `importScripts` of rxjs from a CDN with the local rxjs (nothing is fetched);
// - a `fetch` wrapper that refuses any URL not on loopback (the test fails), logs every call,
//   and sends whoami, which the SDK hard-codes to https://api-{cluster}.{acdDomain}, to the
//   sandbox;
// - a `WebSocket` that throws, and a socket-level record of every TCP connection (a patched
//   `net.Socket.prototype.connect`, and `diagnostics_channel` `net.client.socket` for the
//   address actually reached), which fails the test on anything but 127.0.0.1 or ::1.

import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** What the guards saw. */
export const seen = {
  /** Every fetch: { method, url (as asked), sent (after rewriting), body }. */
  fetches: [],
  /** URLs refused because they were not on loopback. */
  refused: [],
  /** URLs that were not URLs at all (the SDK builds `undefined/...` ones and ignores them). */
  invalid: [],
  /** Hosts rewritten to the sandbox (whoami). */
  rewritten: [],
  /** Every TCP connection attempt: { host, port } as asked. */
  connects: [],
  /** Every connected socket: { address, port } actually reached. */
  sockets: [],
  /** Connections to anything but loopback. */
  egress: [],
  /** WebSockets the SDK tried to open. */
  websockets: [],
};

class MemoryStorage {
  #items = new Map();
  get length() {
    return this.#items.size;
  }
  key(i) {
    return [...this.#items.keys()][i] ?? null;
  }
  getItem(k) {
    return this.#items.has(String(k)) ? this.#items.get(String(k)) : null;
  }
  setItem(k, v) {
    this.#items.set(String(k), String(v));
  }
  removeItem(k) {
    this.#items.delete(String(k));
  }
  clear() {
    this.#items.clear();
  }
}

/** Blobs behind `URL.createObjectURL`, for the Worker shim. */
const blobs = new Map();

/**
 * A Worker whose code runs in this thread. Its timers are its own, so `terminate()` stops
 * them (the SDK terminates and restarts its polling worker), and messages cross in both
 * directions through `structuredClone` on a later tick, as between threads.
 */
class InThreadWorker {
  #terminated = false;
  #timers = new Set();
  #scope;
  #ready;
  onmessage = null;
  onerror = null;

  constructor(url) {
    const blob = blobs.get(String(url));
    if (!blob) throw new Error(`Worker shim: unknown script ${url}`);
    const worker = this;
    const timers = this.#timers;
    const scope = {
      onmessage: null,
      rxjs: undefined,
      // The worker narrates every poll; NICE_SDK_DEBUG=1 shows it.
      console: process.env.NICE_SDK_DEBUG ? console : { log() {}, error() {}, warn() {}, info() {} },
      postMessage(data) {
        if (worker.#terminated) return;
        const copy = structuredClone(data);
        setImmediate(() => {
          if (!worker.#terminated) worker.onmessage?.({ data: copy });
        });
      },
      importScripts(...urls) {
        for (const u of urls) {
          if (!/\/rxjs(\.umd)?(\.min)?\.js$|rxjs\.umd/.test(u)) {
            seen.refused.push(u);
            throw new Error(`Worker shim: importScripts(${u}) refused`);
          }
        }
        // The SDK's worker expects rxjs 6's UMD global with `rxjs.fetch.fromFetch`.
        scope.rxjs = { ...require('rxjs'), fetch: require('rxjs/fetch') };
      },
      addEventListener(type, listener) {
        if (type === 'message') scope.onmessage = listener;
      },
      close() {
        worker.terminate();
      },
      setTimeout(fn, ms, ...args) {
        const id = setTimeout(() => {
          timers.delete(id);
          if (!worker.#terminated) fn(...args);
        }, ms);
        timers.add(id);
        return id;
      },
      setInterval(fn, ms, ...args) {
        const id = setInterval(() => {
          if (!worker.#terminated) fn(...args);
        }, ms);
        timers.add(id);
        return id;
      },
      clearTimeout(id) {
        timers.delete(id);
        clearTimeout(id);
      },
      clearInterval(id) {
        timers.delete(id);
        clearInterval(id);
      },
    };
    scope.self = scope;
    this.#scope = scope;
    this.#ready = blob.text().then((code) => {
      const run = new Function(
        'self',
        'console',
        'importScripts',
        'postMessage',
        'setTimeout',
        'setInterval',
        'clearTimeout',
        'clearInterval',
        code,
      );
      run(
        scope,
        scope.console,
        scope.importScripts,
        scope.postMessage,
        scope.setTimeout,
        scope.setInterval,
        scope.clearTimeout,
        scope.clearInterval,
      );
    });
  }

  postMessage(data) {
    const copy = structuredClone(data);
    this.#ready.then(() =>
      setImmediate(() => {
        if (!this.#terminated) this.#scope.onmessage?.({ data: copy });
      }),
    );
  }

  addEventListener(type, listener) {
    if (type === 'message') this.onmessage = listener;
    if (type === 'error') this.onerror = listener;
  }

  removeEventListener() {}

  terminate() {
    this.#terminated = true;
    for (const id of this.#timers) {
      clearTimeout(id);
      clearInterval(id);
    }
    this.#timers.clear();
  }
}

function isLoopback(hostname) {
  return LOOPBACK_HOSTS.has(hostname);
}

/** Forgets what the guards saw (after their self-test). */
export function forget() {
  for (const list of Object.values(seen)) list.length = 0;
}

/**
 * Installs the globals and guards. `origin` is the sandbox (`http://127.0.0.1:PORT`), where
 * whoami is sent.
 */
export function install(origin) {
  const events = new EventTarget();
  globalThis.window = globalThis;
  globalThis.addEventListener = events.addEventListener.bind(events);
  globalThis.removeEventListener = events.removeEventListener.bind(events);
  globalThis.dispatchEvent = events.dispatchEvent.bind(events);
  globalThis.localStorage = new MemoryStorage();
  globalThis.sessionStorage = new MemoryStorage();

  URL.createObjectURL = (blob) => {
    const url = `blob:callplan-shim/${blobs.size + 1}`;
    blobs.set(url, blob);
    return url;
  };
  URL.revokeObjectURL = (url) => blobs.delete(String(url));
  globalThis.Worker = InThreadWorker;

  globalThis.WebSocket = class {
    constructor(url) {
      seen.websockets.push(String(url));
      throw new Error(`WebSocket refused by the test: ${url}`);
    }
  };

  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const asked = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init.method ?? input?.method ?? 'GET').toUpperCase();
    let url;
    try {
      url = new URL(asked);
    } catch {
      seen.invalid.push(asked);
      return realFetch(input, init);
    }
    // whoami: https://api-{cluster}.{acdDomain}/incontactauthorizationserver/token/whoami
    if (
      url.protocol === 'https:' &&
      /^api-[a-z0-9-]+\./i.test(url.hostname) &&
      /^\/incontactauthorizationserver\//i.test(url.pathname)
    ) {
      seen.rewritten.push(url.href);
      url = new URL(url.pathname + url.search, origin);
    }
    if (!isLoopback(url.hostname)) {
      seen.refused.push(url.href);
      throw new TypeError(`egress refused by the test: ${url.href}`);
    }
    seen.fetches.push({ method, url: asked, sent: url.href, body: init.body ?? null });
    return realFetch(url.href, init);
  };

  // Socket level: every TCP connection the process makes, whoever makes it.
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    // `net.connect` passes its normalized arguments as one array.
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const options = typeof first === 'object' && first !== null ? first : { port: first, host: args[1] };
    const host = options.host ?? 'localhost';
    seen.connects.push({ host, port: options.port });
    if (!options.path && !isLoopback(host)) {
      seen.egress.push(`${host}:${options.port}`);
      throw new Error(`connection to ${host}:${options.port} refused by the test`);
    }
    return connect.apply(this, args);
  };
  diagnosticsChannel.subscribe('net.client.socket', ({ socket }) => {
    socket.once('connect', () => {
      seen.sockets.push({ address: socket.remoteAddress, port: socket.remotePort });
      if (!LOOPBACK_ADDRESSES.has(socket.remoteAddress)) {
        seen.egress.push(`${socket.remoteAddress}:${socket.remotePort}`);
      }
    });
  });

  // The SDK leaves rejected promises unhandled (optional services the sandbox does not have);
  // Node 20 would exit on the first one.
  process.on('unhandledRejection', () => {});
}
