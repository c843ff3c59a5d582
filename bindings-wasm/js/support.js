// Support code of the npm package `grantline`, imported by the Rust side: the error classes
// (every error grantline throws is built by `makeError`, so `instanceof` works against the
// classes the package exports), redacted printing of request objects, the transport (fetch
// with a whole-request deadline and a capped body read), and a cancellable sleep.

/** Base class of every error grantline throws. */
export class GrantlineError extends Error {
  constructor(message, fields) {
    super(message);
    if (fields) Object.assign(this, fields);
  }
}
/** The authorization server said no (an OAuth `error` response). */
export class OAuthError extends GrantlineError {}
/** The server answered something that is neither a valid answer nor an OAuth error. */
export class MalformedResponseError extends GrantlineError {}
/** The caller's configuration or input is wrong (bad option, missing endpoint, insecure URL...). */
export class ConfigurationError extends GrantlineError {}
/** The callback does not answer the pending authorization (state or issuer mismatch). */
export class StateMismatchError extends GrantlineError {}
/** The token can no longer be renewed: the user must authorize again. */
export class ReauthorizationRequiredError extends GrantlineError {}
/** fetch failed, the whole-request deadline passed, or the server answered with a redirect. */
export class TransportError extends GrantlineError {}
/** A JWS or an ID token was refused: kind `jws` (with `problem`) or `id_token` (with `claim`). */
export class TokenValidationError extends GrantlineError {}
/** A shared session's store could not be used, and no usable token is left (kind `store`). */
export class StoreError extends GrantlineError {}

const classes = {
  GrantlineError, OAuthError, MalformedResponseError, ConfigurationError,
  StateMismatchError, ReauthorizationRequiredError, TransportError, TokenValidationError, StoreError,
};
for (const [name, cls] of Object.entries(classes)) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

export function makeError(name, message, fields) {
  return new (classes[name] || GrantlineError)(message, fields);
}

// A request object: one call builds it, from one string (fewer boundary crossings). It prints
// redacted: `toString` and Node's `util.inspect` show the core's secret-free rendering (computed
// only when printed, by the package's `redactRequest`), while the enumerable fields stay usable
// by `fetch`.
let redactor = null;
export function setRedactor(f) { redactor = f; }

// What every entry point of the package does with the glue's exports (`core`) once the module
// is loaded: request objects print through the core's `redactRequest`, and the classes behave
// as data (see `asData` below).
export function prepare(core) {
  setRedactor(core.redactRequest);
  asData(core);
}
function redacted() { return redactor ? redactor(this) : `${this.method} ${this.url} [body and credentials redacted]`; }

// Request headers as they cross from WebAssembly, "name\nvalue\nname\nvalue..." (one string
// instead of two per header; a newline cannot occur in a header), as a record.
function headerRecord(headers) {
  const h = {};
  // indexOf and slice rather than split: half the time (no array, no copies).
  for (let at = 0; at < headers.length;) {
    const name = headers.indexOf('\n', at);
    if (name < 0) break;
    const value = headers.indexOf('\n', name + 1);
    const end = value < 0 ? headers.length : value;
    h[headers.slice(at, name)] = headers.slice(name + 1, end);
    at = end + 1;
  }
  return h;
}

const REDACTED = {
  toString: { value: redacted },
  [Symbol.for('nodejs.util.inspect.custom')]: { value: redacted },
};
// The request crosses from WebAssembly as one string (one to decode instead of one per part):
// its method, URL, headers (see `headerRecord`) and body one after the other, and the indices
// where the first three end.
export function makeRequest(request, methodEnd, urlEnd, headersEnd) {
  const method = request.slice(0, methodEnd);
  const url = request.slice(methodEnd, urlEnd);
  const headers = headerRecord(request.slice(urlEnd, headersEnd));
  // No body at all when it is empty (a GET): fetch refuses a GET with a body, even ''.
  const out = headersEnd === request.length ? { method, url, headers } : { method, url, headers, body: request.slice(headersEnd) };
  return Object.defineProperties(out, REDACTED);
}

// A list of strings option (`undefined`/`null`: none; a string: a list of one) as one string
// for the Rust side: "\nitem\nitem..." ('' when empty), in one boundary crossing. undefined
// when it is anything else, or an item holds a newline: the Rust side then reads it the long way
// (and says what is wrong).
export function stringList(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v.includes('\n') ? undefined : `\n${v}`;
  if (!Array.isArray(v)) return undefined;
  let out = '';
  for (let i = 0; i < v.length; i += 1) {
    const item = v[i];
    if (typeof item !== 'string' || item.includes('\n')) return undefined;
    out += `\n${item}`;
  }
  return out;
}

// A session's `next` answer ({ next, token } / { next, id, request, current } / { next, id }):
// plain data, shown with the tokens redacted (`toString`, Node's inspect, and `JSON.stringify`
// through a non-enumerable `toJSON`: spreading or destructuring it still gives the tokens).
function nextView() {
  const shown = { ...this };
  if (shown.token !== undefined) shown.token = '[redacted]';
  if (shown.current !== undefined) shown.current = '[redacted]';
  if (shown.request !== undefined) shown.request = `${shown.request.method} ${shown.request.url} [redacted]`;
  return shown;
}
function shownNext() {
  return `Next ${JSON.stringify(nextView.call(this))}`;
}
export function makeNext(o) {
  Object.defineProperty(o, 'toString', { value: shownNext });
  Object.defineProperty(o, 'toJSON', { value: nextView });
  Object.defineProperty(o, Symbol.for('nodejs.util.inspect.custom'), { value: shownNext });
  return o;
}

// ------------------------------------------------------------------------- classes as data
//
// The package's classes are wasm-bindgen wrappers: an object whose only own property is a
// pointer into the WebAssembly memory, everything else on the prototype. Left alone,
// `JSON.stringify(tokens)` gives `{"__wbg_ptr":1234}` and `structuredClone(tokens)` silently
// gives a copy that is no TokenSet. `asData(classes)` (the package's entry points call it on
// the glue's exports) makes each class behave as data without leaking:
//   - `toJSON()` (Rust, per class) is the redacted view: what JSON.stringify and structured
//     loggers show; Node's `util.inspect` (console.log) shows the same view, named;
//   - every instance gets an own enumerable accessor, `notCloneable`, whose getter throws a
//     DataCloneError naming the class and what to do instead (`serialize()`):
//     `structuredClone`, `postMessage` and the other structured-clone users read every own
//     enumerable property, so they fail with that error in every engine, and so does a spread
//     or `Object.assign` copy (which would be no TokenSet either). The pointer itself becomes
//     non-enumerable.
// Both are installed when the wasm-bindgen glue first sets `__wbg_ptr` on a new instance (its
// constructor and its internal `__wrap`): a setter on the prototype catches that assignment.

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const CLONE_KEY = 'notCloneable';
// What to do instead of cloning, per class. A class missing here is refused by `asData`.
const INSTEAD = {
  TokenSet: 'to persist or send it, use tokens.serialize() (a secret) and TokenSet.deserialize(); to log it, JSON.stringify(tokens) (redacted)',
  PendingAuthorization: 'to store or send it, use pending.serialize() (a secret) and PendingAuthorization.deserialize()',
  CodeGrant: 'send its code, codeVerifier and redirectUri, and make a new CodeGrant(code, codeVerifier, redirectUri)',
  DeviceAuthorization: 'poll from where it was obtained, or send its fields (deviceCode is a secret)',
  Authorization: 'send its url, and store authorization.pending.serialize() (a secret)',
  Client: 'make a Client in each realm (worker) that needs one',
  Provider: 'make the Provider in each realm (worker) that needs one (Provider.custom(), a preset, or Provider.fromMetadata())',
  Discovery: 'make a new Discovery(issuer) where it is needed',
  TokenSession: 'keep one session per realm (worker): send tokens with session.tokens.serialize() if they must be shared',
  SessionState: 'keep it in the realm (worker) that drives it',
  SigningKey: 'load the key in each realm (worker) that signs (SigningKey.fromJwk() or fromPem() from where you keep it); send signed JWS, never the key',
  JwkSet: 'send the JWK Set document (JSON text) and JwkSet.fromJson() it where it is needed',
  VerifiedJws: 'send what you need of it (its claims() are personal data: treat them as such)',
  JwksCache: 'keep one cache per realm (worker): each fetches the provider\'s keys itself',
  IdTokenCheck: 'build the check where the token is validated (client.idTokenCheck(pending))',
  IdTokenClaims: 'send what you need of it (claims are personal data), or the ID token itself (a secret) to validate again',
  UserInfo: 'send what you need of userinfo.claims (personal data)',
  FleetConfig: 'make the FleetConfig in each realm (worker) from its options (the keys are secrets: load them where they are needed)',
  FleetState: 'keep it in the realm (worker) that drives it',
  StoreEntry: 'send its sealed text (entry.seal(config)) and StoreEntry.open() it where it is needed',
};

function cloneError(name) {
  const message = `${name} objects cannot be cloned or copied (they live in this realm's WebAssembly memory): ${INSTEAD[name]}`;
  if (typeof DOMException === 'function') return new DOMException(message, 'DataCloneError');
  const e = new Error(message);
  e.name = 'DataCloneError';
  return e;
}

function installAsData(name, cls) {
  const proto = cls.prototype;
  const refuse = { get() { throw cloneError(name); }, enumerable: true, configurable: true };
  Object.defineProperty(proto, '__wbg_ptr', {
    configurable: true,
    set(ptr) {
      Object.defineProperty(this, '__wbg_ptr', { value: ptr, writable: true, enumerable: false, configurable: true });
      Object.defineProperty(this, CLONE_KEY, refuse);
    },
  });
  Object.defineProperty(proto, INSPECT, {
    configurable: true,
    writable: true,
    value(depth, options, inspect) {
      let view;
      try {
        view = this.toJSON();
      } catch {
        return `${name} {}`; // freed (free() or `using`): nothing left to show
      }
      if (typeof inspect !== 'function' || !options) return `${name} ${JSON.stringify(view)}`;
      if (depth < 0) return options.stylize(`[${name}]`, 'special');
      return `${name} ${inspect(view, { ...options, depth: options.depth === null ? null : options.depth - 1 })}`;
    },
  });
}

// Installs the above on every class of the glue's exports (`core`): a class of the package is
// a function whose prototype has wasm-bindgen's `free`.
export function asData(core) {
  for (const [name, value] of Object.entries(core)) {
    if (typeof value !== 'function' || !value.prototype || typeof value.prototype.free !== 'function') continue;
    if (!Object.hasOwn(INSTEAD, name) || typeof value.prototype.toJSON !== 'function') {
      throw new Error(`grantline: class ${name} has no data view (a toJSON and a line in INSTEAD)`);
    }
    installAsData(name, value);
  }
}

// (Functions, not closures made per call: the build's minifier names each closure it makes,
// which costs a defineProperty each time.)
function headerText(v) { return typeof v === 'string' && !v.includes('\n'); }
function addHeader(out, name, value) {
  if (!headerText(name)) return false;
  if (headerText(value)) { out.push(name, value); return true; }
  if (Array.isArray(value) && value.every(headerText)) {
    for (const v of value) out.push(name, v);
    return true;
  }
  return false;
}
// Response headers as one string, "name\nvalue\nname\nvalue...", from a `Headers` (or any
// iterable of pairs, like a Map), a list of [name, value] pairs, or a record whose values are
// strings or string lists (a repeated header): one string crosses into WebAssembly instead of
// two per header. A newline cannot occur in a valid header. Returns null when the shape is
// wrong (or a name or value holds a newline).
export function flattenHeaders(h) {
  const out = [];
  if (h === undefined || h === null) return '';
  if (typeof h !== 'object') return null;
  if (Array.isArray(h) || typeof h[Symbol.iterator] === 'function') {
    for (const pair of h) {
      if (!Array.isArray(pair) || pair.length !== 2 || !headerText(pair[1]) || !addHeader(out, pair[0], pair[1])) return null;
    }
  } else {
    for (const name of Object.keys(h)) if (!addHeader(out, name, h[name])) return null;
  }
  return out.join('\n');
}

// ------------------------------------------------------------------------------ transport
//
// Every request grantline sends goes through `fetchAndRead` or `fetchThenParse` (the session's
// API calls through `fetchApi`): the runtime's fetch (or the one the caller injected), redirects
// never followed (`redirect: 'manual'`, set by `FetchInit`), a
// whole-request deadline covering the fetch AND the body read, and the body read through the
// stream reader, at most `cap` bytes kept (the decoded bytes: fetch has already inflated gzip and
// deflate), the stream cancelled past it.

/** What a transport failure becomes (the Rust side turns it into a TransportError). */
class TransportFailure extends Error {}

// "POST https://as.example/token": what a transport error names (never the query, which may
// hold a secret, nor a body).
function target(input, init) {
  const url = typeof input === 'string' ? input : String((input && input.url) || input);
  return `${(init && init.method) || 'GET'} ${url.split(/[?#]/)[0]}`;
}

// Timers above this many milliseconds fire at once in Node (with a warning): no deadline then.
const MAX_TIMER = 2147483647;
// Calls started within the same slot of this many milliseconds, with the same timeout, share one
// timer (one timer per request costs more than the rest of a request to a fast server). A
// deadline never fires early, and at most this late.
const SLOT_MS = 25;
const clock = typeof performance !== 'undefined' && performance.now ? () => performance.now() : () => Date.now();
// timeout -> the open bucket of the current slot: { slot, calls: Set<Deadline>, timer }. Where
// timers can be unref'd (Node, Bun), a bucket whose calls have all ended stays open, its timer
// unref'd (it holds no process open), for the next call of the same slot: calls one after the
// other then cost no timer each. Elsewhere (Deno, browsers, Workers) its timer is cleared.
const buckets = new Map();

function expireBucket(timeout, bucket) {
  if (buckets.get(timeout) === bucket) buckets.delete(timeout);
  for (const d of bucket.calls) d.expire();
  bucket.calls.clear();
}

// The deadline of one call (and the caller's abort signal). `signal()` is the AbortSignal to give
// fetch, made on first use (an AbortSignal costs microseconds: a fetch that never reads it, like
// a test double, never pays). When the deadline passes or the caller's signal aborts, the
// controller aborts, the body `reader` is cancelled and `reject` is called, once. `finish()`
// ends it. `input`/`init`: what the messages name; `late(ms)`: the message of a passed deadline.
class Deadline {
  constructor(timeout, signal, input, init, late) {
    this.timeout = timeout;
    // What messages name: the call's whole deadline (`timeout` is what is left of it when part
    // of the call ran before; see `Call::until` on the Rust side).
    this.shown = timeout;
    this.input = input;
    this.init = init;
    this.late = late;
    this.controller = undefined;
    this.reason = undefined;
    this.reject = undefined;
    this.reader = undefined;
    this.bucket = undefined;
    this.unlink = undefined;
    if (timeout < MAX_TIMER) {
      const slot = Math.floor(clock() / SLOT_MS);
      let bucket = buckets.get(timeout);
      if (bucket === undefined || bucket.slot !== slot) {
        // An idle bucket of a past slot: its timer goes now (at most one idle timer per timeout).
        if (bucket !== undefined && bucket.calls.size === 0) clearTimeout(bucket.timer);
        bucket = { slot, calls: new Set(), timer: undefined };
        const b = bucket;
        bucket.timer = setTimeout(() => expireBucket(timeout, b), Math.max(0, (slot + 1) * SLOT_MS - clock()) + timeout);
        buckets.set(timeout, bucket);
      }
      // An idle bucket's timer holds the process open again while it has a call.
      if (bucket.calls.size === 0 && typeof bucket.timer.ref === 'function') bucket.timer.ref();
      bucket.calls.add(this);
      this.bucket = bucket;
    }
    if (signal) this.watch(signal);
  }

  // Ends the call when `signal` aborts (the listener goes at `finish()`).
  watch(signal) {
    const aborted = () => this.fire(`${this.what()}: aborted${signal.reason && signal.reason.message ? ` (${signal.reason.message})` : ''}`);
    if (signal.aborted) aborted();
    else {
      signal.addEventListener('abort', aborted, { once: true });
      const unlink = this.unlink;
      this.unlink = () => { if (unlink) unlink(); signal.removeEventListener('abort', aborted); };
    }
  }

  what() {
    return this.input === undefined ? 'waiting for the token renewal' : target(this.input, this.init);
  }

  signal() {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(new TransportFailure(this.reason));
    }
    return this.controller.signal;
  }

  expire() {
    this.bucket = undefined;
    this.fire(this.late ? this.late(this.shown) : `${this.what()}: no complete answer within ${this.shown} ms (the whole-request deadline)`);
  }

  fire(reason) {
    if (this.reason !== undefined) return;
    this.reason = reason;
    if (this.controller !== undefined) this.controller.abort(new TransportFailure(reason));
    if (this.reader !== undefined) this.reader.cancel().catch(() => {});
    if (this.reject !== undefined) this.reject(new TransportFailure(reason));
  }

  finish() {
    const bucket = this.bucket;
    if (bucket !== undefined) {
      bucket.calls.delete(this);
      if (bucket.calls.size === 0) {
        const open = buckets.get(this.timeout) === bucket;
        if (open && typeof bucket.timer.unref === 'function') bucket.timer.unref();
        else {
          clearTimeout(bucket.timer);
          if (open) buckets.delete(this.timeout);
        }
      }
      this.bucket = undefined;
    }
    if (this.unlink !== undefined) this.unlink();
    this.reject = undefined;
    this.reader = undefined;
  }
}

// `sent` (a fetch's Promise), or a rejection when the deadline passes (or the caller aborts)
// first: a fetch that ignores the signal still ends at the deadline.
function race(sent, d) {
  return new Promise((resolve, reject) => {
    // Always handled, even when the deadline won: never an unhandled rejection.
    Promise.resolve(sent).then(resolve, reject);
    if (d.reason !== undefined) reject(new TransportFailure(d.reason));
    else d.reject = reject;
  });
}

// fetch(input, init) as a Promise (one that rejects when fetch throws), unless the call was
// aborted already.
function send(custom, input, init, d) {
  if (d.reason !== undefined) return Promise.reject(new TransportFailure(d.reason));
  try {
    return (custom || globalThis.fetch)(input, init);
  } catch (e) {
    return Promise.reject(e);
  }
}

// Gives `init` a lazily made `signal` (see `Deadline`): an own property, so that a fetch wrapper
// that spreads `init` keeps it (the session's API calls, whose `init` is the caller's).
function lazySignal(init, d) {
  // A method, not an arrow function: the build's minifier names each arrow it makes, per call.
  Object.defineProperty(init, 'signal', { get() { return d.signal(); }, enumerable: true, configurable: true });
}

const DEADLINE = Symbol('deadline');
// The `init` of grantline's own requests: the request's fields, and `signal` made on first read
// (a getter on the prototype: an own accessor would cost more than the rest of a request to a
// fast server). An injected fetch should pass `init` on as it is, or at least its `signal`: a
// wrapper that spreads it drops the signal, and the call still ends at its deadline, but a
// request with no answer then keeps its connection until the server closes it. Prints redacted.
// Made from the request as it crosses from WebAssembly (as `makeRequest` takes it); `redirect`
// is always 'manual'.
class FetchInit {
  constructor(request, methodEnd, urlEnd, headersEnd) {
    this.method = request.slice(0, methodEnd);
    this.url = request.slice(methodEnd, urlEnd);
    this.headers = headerRecord(request.slice(urlEnd, headersEnd));
    // No body when it is empty (a GET): fetch refuses a GET with a body, even ''.
    this.body = headersEnd === request.length ? undefined : request.slice(headersEnd);
    // grantline never follows a redirect on its own requests (the Rust side refuses the answer).
    this.redirect = 'manual';
    this[DEADLINE] = undefined;
  }

  get signal() {
    return this[DEADLINE].signal();
  }

  toString() {
    return redacted.call(this);
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return redacted.call(this);
  }
}

// The body of a fetch Response as bytes, at most `cap` of them (the stream is cancelled past
// it: a 50 MB answer or a gzip bomb costs `cap` bytes of memory, not 50 MB). `d` (optional):
// the call's deadline, which cancels the read when it fires.
async function readBody(res, cap, d) {
  const stream = res.body;
  if (stream === null || stream === undefined || typeof stream.getReader !== 'function') {
    // No body, or a look-alike without a stream: read it whole (it is in memory already).
    let all;
    if (typeof res.arrayBuffer === 'function') all = new Uint8Array(await res.arrayBuffer());
    else if (typeof res.text === 'function') all = new TextEncoder().encode(await res.text());
    else return new Uint8Array(0);
    return all.length > cap ? all.subarray(0, cap) : all;
  }
  const reader = stream.getReader();
  if (d) d.reader = reader;
  let first;
  let chunks;
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (d && d.reason !== undefined) break;
      size += value.length;
      if (first === undefined) first = value;
      else (chunks || (chunks = [first])).push(value);
      if (size >= cap) {
        reader.cancel().catch(() => {});
        break;
      }
    }
  } catch (e) {
    if (d && d.reason !== undefined) throw new TransportFailure(d.reason);
    throw e;
  }
  if (d && d.reason !== undefined) throw new TransportFailure(d.reason);
  if (first === undefined) return new Uint8Array(0);
  if (chunks === undefined) return first.length > cap ? first.subarray(0, cap) : first;
  const out = new Uint8Array(Math.min(size, cap));
  let at = 0;
  for (const c of chunks) {
    const n = Math.min(c.length, out.length - at);
    out.set(n === c.length ? c : c.subarray(0, n), at);
    at += n;
    if (at === out.length) break;
  }
  return out;
}

const EMPTY = new Uint8Array(0);

// The headers of a fetch Response the core reads, as one string "name\nvalue\nname\nvalue..."
// (what the Rust side splits): of a `Headers`, only `names` (grantline::RESPONSE_HEADERS) are
// read (walking a fresh Headers costs more than the whole parse); a look-alike's record or
// pairs go whole through `flattenHeaders`. null when they are unusable (the Rust side says why).
function wanted(headers, names) {
  if (!headers || typeof headers.get !== 'function') return flattenHeaders(headers);
  let out = '';
  for (const name of names) {
    const value = headers.get(name);
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' || value.includes('\n')) return null;
    out = out === '' ? `${name}\n${value}` : `${out}\n${name}\n${value}`;
  }
  return out;
}

// A fetch Response read into a plain object: { status, headers, body } (`status`: 0 for an
// opaque redirect; `headers`: see `wanted`; `body`: bytes, at most `cap`), what crosses into
// WebAssembly as plain values in one call.
async function read(res, names, cap, d) {
  if (!res || typeof res.status !== 'number' || (!res.body && typeof res.arrayBuffer !== 'function' && typeof res.text !== 'function')) {
    throw new TypeError('fetch returned something that is not a Response');
  }
  const headers = wanted(res.headers, names);
  // A redirect (refused by the Rust side) or an opaque answer: its body is not needed.
  if ((res.status >= 300 && res.status < 400) || res.type === 'opaqueredirect') {
    if (res.body && typeof res.body.cancel === 'function') res.body.cancel().catch(() => {});
    return { status: res.type === 'opaqueredirect' ? 0 : res.status, headers, body: EMPTY };
  }
  const body = await readBody(res, cap, d);
  return { status: res.status, headers, body };
}

// The message of a failure, as the Rust side puts it in a TransportError: what was sent where,
// and what fetch said (Node puts the socket error in `cause`, e.g. `connect ECONNREFUSED`).
function failure(e, d) {
  if (e instanceof TransportFailure) return e;
  const message = (e && e.message) || String(e);
  const cause = e && e.cause && e.cause.message;
  return new TransportFailure(`${d.what()}: ${message}${cause && cause !== message ? ` (${cause})` : ''}`);
}

function redirected(r) { return r.status === 0 || (r.status >= 300 && r.status < 400); }

// fetch(url, init) for a core request (as `makeRequest` takes it) then the body read, within
// `timeout` ms (and until `signal` aborts), the body capped at `cap` bytes: the read response
// (with `what`, the method and URL, when it is a redirect), or a TransportFailure.
async function exchange(custom, request, methodEnd, urlEnd, headersEnd, names, cap, timeout, signal, whole) {
  const init = new FetchInit(request, methodEnd, urlEnd, headersEnd);
  const d = new Deadline(timeout, signal, init.url, init);
  if (whole !== undefined) d.shown = whole;
  init[DEADLINE] = d;
  let r;
  try {
    const res = await race(send(custom, init.url, init, d), d);
    d.reject = undefined;
    r = await read(res, names, cap, d);
  } catch (e) {
    d.finish();
    throw failure(e, d);
  }
  d.finish();
  // A redirect's message names the request (the Rust side refuses it).
  if (redirected(r)) r.what = d.what();
  return r;
}

// `exchange` for the Rust side's futures (discovery, JWKS, userinfo...): one Promise.
export function fetchAndRead(custom, request, methodEnd, urlEnd, headersEnd, names, cap, timeout, signal, whole) {
  return exchange(custom, request, methodEnd, urlEnd, headersEnd, names, cap, timeout, signal, whole);
}

// One round of the convenient layer: fetch and read (as `exchange`), then
// `parse(kind, status, what, headers, body, extra, separator)` (the Rust side: the core parses;
// the response crosses as plain values in one call); a failure goes to
// `parse(-1, 0, undefined, '', empty, error, separator)`, which maps it to a TransportError.
// No Rust future, no per-call closure.
export async function fetchThenParse(custom, request, methodEnd, urlEnd, headersEnd, names, cap, timeout, signal, parse, kind, extra, separator) {
  let r;
  try {
    r = await exchange(custom, request, methodEnd, urlEnd, headersEnd, names, cap, timeout, signal);
  } catch (e) {
    return parse(-1, 0, undefined, '', EMPTY, e, separator);
  }
  return parse(kind, r.status, r.what, r.headers, r.body, extra, separator);
}

// The sans-IO parse functions given a fetch Response: read it (capped), then run the
// (synchronous) parser on its parts: `parse(kind, status, headers, body, now, interval,
// separator)`.
export function readThenParse(res, names, cap, parse, kind, now, interval, separator) {
  return read(res, names, cap, undefined)
    .then((r) => parse(kind, r.status, r.headers, r.body, now, interval, separator));
}

// `fetch(input, init)` for the session's API calls: the deadline (and the options' `signal`)
// cover the answer's head; the body is the caller's to read, streamed (never cut, never
// buffered here). The caller's own signal (in `init`, or on a Request `input`) aborts the call
// before the answer (a TransportError) and the body read after it (as fetch does).
export function fetchApi(custom, input, init, timeout, signal, whole) {
  const own = init.signal || (input && typeof input === 'object' && input.signal) || undefined;
  const d = new Deadline(timeout, signal, input, init);
  if (whole !== undefined) d.shown = whole;
  if (own) {
    // Both signals go to fetch: AbortSignal.any where the runtime has it (no listener left on
    // a long-lived signal of the caller's), else the caller's forwarded to ours.
    const any = typeof AbortSignal.any === 'function';
    init.signal = any ? AbortSignal.any([own, d.signal()]) : d.signal();
    const forward = () => {
      if (!any) d.signal() && d.controller.abort(own.reason);
      if (d.reject) d.reject(new TransportFailure(`${d.what()}: aborted`));
    };
    if (own.aborted) forward();
    else {
      own.addEventListener('abort', forward, { once: true });
      if (any) {
        const unlink = d.unlink;
        d.unlink = () => { if (unlink) unlink(); own.removeEventListener('abort', forward); };
      }
    }
  } else {
    lazySignal(init, d);
  }
  return race(send(custom, input, init, d), d).then(
    (r) => { d.finish(); return r; },
    (e) => { d.finish(); throw failure(e, d); },
  );
}

// A fetch Response whose body will not be read (a refused answer before the retry): cancel
// it, so that its connection is freed.
export function discard(res) {
  if (res && res.body && typeof res.body.cancel === 'function' && !res.bodyUsed) res.body.cancel().catch(() => {});
}

// A promise bounded by a caller's `timeout` (ms) and `signal` (and `also`, session.fetch's own
// request signal): a caller that stops waiting for a renewal other callers share (the renewal
// goes on).
export function bounded(promise, timeout, signal, also, whole) {
  const d = new Deadline(timeout, signal, undefined, undefined, (ms) => `gave up waiting for the token renewal after ${ms} ms (this call's deadline; the renewal goes on)`);
  if (whole !== undefined) d.shown = whole;
  if (also) d.watch(also);
  return race(promise, d).then(
    (r) => { d.finish(); return r; },
    (e) => { d.finish(); throw e; },
  );
}

// Calls a user callback for its side effect only (`onError`): whatever it throws or rejects
// with is dropped (never an unhandled rejection).
export function callQuietly(f, value) {
  try {
    const r = f(value);
    if (r && typeof r.then === 'function') r.then(undefined, () => {});
  } catch {
    // A logging callback that throws must not break the session.
  }
}

// Waits `ms` milliseconds, or until `signal` aborts (then rejects with its reason). The abort
// listener goes when the wait ends: a device flow polling for minutes leaves none behind on a
// long-lived signal.
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(signal.reason);
    const aborted = () => { clearTimeout(timer); reject(signal.reason); };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    if (signal) signal.addEventListener('abort', aborted, { once: true });
  });
}
