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

// Response headers as one flat [name, value, name, value, ...] list of strings, from a
// `Headers` (or any iterable of pairs, like a Map), a list of [name, value] pairs, or a record
// whose values are strings or string lists (a repeated header). One call, not one per header.
// Returns null when the shape is wrong.
export function flattenHeaders(h) {
  const out = [];
  const add = (name, value) => {
    if (typeof name !== 'string') return false;
    if (typeof value === 'string') { out.push(name, value); return true; }
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      for (const v of value) out.push(name, v);
      return true;
    }
    return false;
  };
  if (h === undefined || h === null) return out;
  if (typeof h !== 'object') return null;
  if (Array.isArray(h) || typeof h[Symbol.iterator] === 'function') {
    for (const pair of h) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== 'string' || !add(pair[0], pair[1])) return null;
    }
    return out;
  }
  for (const name of Object.keys(h)) if (!add(name, h[name])) return null;
  return out;
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}
