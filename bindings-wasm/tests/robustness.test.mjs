// Hostile input from JavaScript never crashes the WebAssembly module (a Rust panic would be a
// RuntimeError and could leave the instance unusable): every failure is a GrantlineError, and
// the module still works afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as g from 'grantline';

let seed = 42;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const pick = (list) => list[rand(list.length)];
const junk = () => pick([
  undefined, null, 0, -1, 1.5, NaN, Infinity, 2 ** 64, 200, 401, 99999, '', 'x', '{', '{"access_token":',
  '{"access_token":"a","expires_in":-5}', '{"access_token":"a","expires_in":1e400}', '{"error":7}', '\u0000\uffff',
  'a'.repeat(5000), [], [[1, 2]], [['content-type']], [['a', 'b', 'c']], {}, { a: 1 }, { 'content-type': ['x', 3] },
  { 'bad name': 'v' }, { 'x-v': 'line\nbreak' }, new Uint8Array([0xff, 0xfe, 0x00]), new ArrayBuffer(3), () => 1, Symbol('s'),
  new Map([['content-type', 'text/html']]), new Headers({ 'www-authenticate': 'Bearer error="invalid_token"' }), true, 10n,
]);

function call(f) {
  try {
    const r = f();
    if (r && typeof r.then === 'function') r.catch(() => {}); // a rejection here is fine
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) throw e;
    if (!(e instanceof g.GrantlineError) && !(e instanceof TypeError) && !(e instanceof Error)) throw e;
    if (!(e instanceof g.GrantlineError) && /unreachable|panicked|RuntimeError/.test(String(e))) throw e;
  }
}

test('20,000 hostile inputs: typed errors only, and the module keeps working', () => {
  const client = new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's', fetch: () => Promise.resolve(new Response('{}')) });
  const state = new g.SessionState(client, { type: 'client_credentials' });
  for (let i = 0; i < 20000; i += 1) {
    const response = { status: junk(), headers: junk(), body: junk() };
    call(() => g.parseTokenResponse(response, junk()));
    call(() => g.parseIntrospectionResponse(response));
    call(() => g.checkRevocationResponse(response));
    call(() => g.parseDeviceAuthorizationResponse(response, junk()));
    call(() => g.parseDevicePollResponse(response, junk(), junk()));
    call(() => g.needsRenewal(response));
    call(() => g.bearerChallenge(junk()));
    call(() => g.parseWwwAuthenticate(String(junk())));
    call(() => g.redactRequest({ method: junk(), url: junk(), headers: junk(), body: junk() }));
    call(() => g.Provider.custom({ tokenEndpoint: junk(), grants: junk(), extraTokenParams: junk(), defaultSkew: junk(), bodyEncoding: junk() }));
    call(() => g.Provider.fromMetadata(junk()));
    call(() => new g.Client(g.Provider.libro(), 'id', { clientSecret: junk(), redirectUri: junk(), authMethod: junk() }));
    call(() => client.clientCredentialsRequest(junk()));
    call(() => client.authorizationUrl({ scopes: junk(), params: junk(), seed: junk(), pkce: junk() }));
    call(() => client.callback(client.authorizationUrl().pending, String(junk())));
    call(() => g.TokenSet.deserialize(String(junk())));
    call(() => g.PendingAuthorization.deserialize(String(junk())));
    call(() => new g.Discovery(String(junk())));
    call(() => new g.Discovery('https://as.example').receive(response));
    call(() => g.redactUrl(String(junk())));
    call(() => new g.SessionState(client, junk(), junk()));
    call(() => state.receive(junk(), response, junk()));
    call(() => state.fail(junk(), String(junk()), junk()));
    call(() => state.waited(junk(), junk()));
    call(() => state.next(junk()));
    call(() => state.delivered(junk()));
    call(() => state.abandon(junk()));
    call(() => client.clientCredentials(junk(), { timeout: junk(), signal: junk() }));
  }
  // Still working.
  const t = g.parseTokenResponse({ status: 200, body: '{"access_token":"ok","expires_in":60}' }, 10);
  assert.equal(t.accessToken, 'ok');
  assert.equal(t.expiresAt, 70);
});
