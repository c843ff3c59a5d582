// Support code of the npm package `grantline`, imported by the Rust side: the error classes
// (every error grantline throws is built by `makeError`, so `instanceof` works against the
// classes the package exports), redacted printing of request objects, and a cancellable sleep.

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
/** fetch failed, or the server answered a token request with a redirect. */
export class TransportError extends GrantlineError {}

const classes = {
  GrantlineError, OAuthError, MalformedResponseError, ConfigurationError,
  StateMismatchError, ReauthorizationRequiredError, TransportError,
};
for (const [name, cls] of Object.entries(classes)) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

export function makeError(name, message, fields) {
  return new (classes[name] || GrantlineError)(message, fields);
}

// A request object: one call builds it (fewer boundary crossings). It prints redacted:
// `toString` and Node's `util.inspect` show the core's secret-free rendering (computed only
// when printed, by the package's `redactRequest`), while the enumerable fields stay usable
// by `fetch`.
let redactor = null;
export function setRedactor(f) { redactor = f; }
function redacted() { return redactor ? redactor(this) : `${this.method} ${this.url} [body and credentials redacted]`; }
export function makeRequest(method, url, headers, body) {
  const h = {};
  for (let i = 0; i + 1 < headers.length; i += 2) h[headers[i]] = headers[i + 1];
  const request = { method, url, headers: h, body };
  Object.defineProperty(request, 'toString', { value: redacted });
  Object.defineProperty(request, Symbol.for('nodejs.util.inspect.custom'), { value: redacted });
  return request;
}

// Response headers as one string, "name\nvalue\nname\nvalue...", from a `Headers` (or any
// iterable of pairs, like a Map), a list of [name, value] pairs, or a record whose values are
// strings or string lists (a repeated header): one string crosses into WebAssembly instead of
// two per header. A newline cannot occur in a valid header. Returns null when the shape is
// wrong (or a name or value holds a newline).
export function flattenHeaders(h) {
  const out = [];
  const ok = (v) => typeof v === 'string' && !v.includes('\n');
  const add = (name, value) => {
    if (!ok(name)) return false;
    if (ok(value)) { out.push(name, value); return true; }
    if (Array.isArray(value) && value.every(ok)) {
      for (const v of value) out.push(name, v);
      return true;
    }
    return false;
  };
  if (h === undefined || h === null) return '';
  if (typeof h !== 'object') return null;
  if (Array.isArray(h) || typeof h[Symbol.iterator] === 'function') {
    for (const pair of h) {
      if (!Array.isArray(pair) || pair.length !== 2 || !ok(pair[1]) || !add(pair[0], pair[1])) return null;
    }
  } else {
    for (const name of Object.keys(h)) if (!add(name, h[name])) return null;
  }
  return out.join('\n');
}

// A fetch Response read into a plain object: { status, type, headers, body }. Of a
// `Headers`, only `names` (grantline::RESPONSE_HEADERS, the ones the core reads) are copied:
// walking a fresh Headers costs more than the whole parse.
async function read(res, names) {
  if (!res || typeof res.text !== 'function') throw new TypeError('fetch returned something that is not a Response');
  // text(), not arrayBuffer(): about 10 µs faster in Node's fetch. Token endpoint bodies are
  // JSON or form, UTF-8 by definition; a byte that is not UTF-8 can only reach an error
  // excerpt, as U+FFFD.
  const body = await res.text();
  let headers = res.headers;
  if (headers && typeof headers.get === 'function') {
    headers = [];
    for (const name of names) {
      const value = res.headers.get(name);
      if (value !== null) headers.push([name, value]);
    }
  }
  return { status: res.status, type: res.type, headers, body };
}

// fetch(input, init) with the global fetch (or `custom`), then the whole response read: one
// Promise for the Rust side to await.
export function fetchAndRead(custom, input, init, names) {
  const f = custom || globalThis.fetch;
  return f(input, init).then((res) => read(res, names));
}

// One round of the convenient layer: fetch, read, then `parse(kind, read, extra)` (the Rust
// side: the core parses); a fetch or read failure goes to `parse(-1, error, extra)`, which
// maps it to a TransportError. No Rust future, no per-call closure.
export function fetchThenParse(custom, input, init, names, parse, kind, extra) {
  const f = custom || globalThis.fetch;
  return Promise.resolve()
    .then(() => f(input, init))
    .then((res) => read(res, names))
    .then((r) => parse(kind, r, extra), (e) => parse(-1, e, extra));
}

// The sans-IO parse functions given a fetch Response: read it, then run the (synchronous)
// parser on the plain object.
export function readThenParse(res, names, parse, kind, now, interval) {
  return read(res, names).then((plain) => parse(kind, plain, now, interval));
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}
