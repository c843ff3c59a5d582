// OpenID Connect and JWT client authentication of the npm package against oidc-provider
// (tests/interop, GRANTLINE_OIDC_URL): real code flows whose ID tokens are validated against the
// server's real JWKS (RS256, ES256, EdDSA), userinfo, the refresh rules, logout, a key rotation
// mid-session (exactly one JWKS refetch, counted through the client's fetch), private_key_jwt
// and client_secret_jwt, resource indicators and token exchange. Run by bindings-wasm/test.sh
// under tests/interop/servers.sh; a missing variable fails (never skips) the tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as g from 'grantline';

const CALLBACK = 'http://127.0.0.1:8765/callback';
const LOGGED_OUT = 'http://127.0.0.1:8765/logged-out';
const url = process.env.GRANTLINE_OIDC_URL;
assert.ok(url, 'GRANTLINE_OIDC_URL is not set: run under tests/interop/servers.sh run -- ...');
const OIDC = url.replace(/\/$/, '');
const JWT_KEY = readFileSync(new URL('../../tests/interop/keys/jwt-client.private.jwk.json', import.meta.url), 'utf8');
const SECRET_JWT = 'secret-jwt-client-shared-secret-0123456789';

/** A fetch that counts the requests sent to each path. */
function countingFetch() {
  const counts = new Map();
  const f = (input, init) => {
    const path = new URL(typeof input === 'string' ? input : input.url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return fetch(input, init);
  };
  f.count = (path) => counts.get(path) ?? 0;
  return f;
}

/** A scripted browser: follows redirects by hand with a cookie jar, stops at the callback. */
async function authorize(start) {
  const cookies = new Map();
  let at = start;
  for (let hop = 0; hop < 20; hop += 1) {
    const headers = cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
    const res = await fetch(at, { headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    const location = res.headers.get('location');
    await res.arrayBuffer();
    assert.ok(res.status >= 300 && res.status < 400 && location, `the authorization stopped at ${at} (${res.status})`);
    const next = new URL(location, at).href;
    if (next.startsWith(CALLBACK)) return next;
    at = next;
  }
  throw new Error('too many redirects');
}

async function login(client, scopes = ['openid', 'offline_access', 'email'], params = [['prompt', 'consent']]) {
  const { url: start, pending } = client.authorizationUrl({ scopes, params });
  const stored = pending.serialize();
  const callback = await authorize(start);
  const restored = g.PendingAuthorization.deserialize(stored);
  const tokens = await client.exchangeCode(client.callback(restored, callback));
  return { tokens, pending: restored };
}

test('test-client: code flow, ID token (RS256) against the real JWKS, userinfo, refresh (§12.2), logout page', async () => {
  const provider = await g.discover(OIDC);
  assert.ok(provider.jwksUri && provider.userinfoEndpoint && provider.endSessionEndpoint);
  const f = countingFetch();
  const client = new g.Client(provider, 'test-client', { clientSecret: 'test-secret', redirectUri: CALLBACK, fetch: f });
  const { tokens, pending } = await login(client);
  assert.ok(pending.nonce);
  const claims = await client.validateIdToken(tokens, pending);
  assert.equal(claims.algorithm, 'RS256');
  assert.equal(claims.issuer, OIDC);
  assert.deepEqual(claims.audiences, ['test-client']);
  assert.equal(claims.nonce, pending.nonce);
  const info = await client.userinfo(tokens, claims);
  assert.equal(info.sub, claims.sub);
  const refreshed = await client.refresh(tokens.refreshToken);
  assert.ok(refreshed.idToken, 'oidc-provider sends an ID token on refresh');
  const again = await client.validateRefreshedIdToken(refreshed, claims);
  assert.equal(again.sub, claims.sub);
  assert.equal(f.count(new URL(provider.jwksUri).pathname), 1);
  const logout = client.endSessionUrl({ idTokenHint: refreshed.idToken, postLogoutRedirectUri: LOGGED_OUT, state: 'bye' });
  const page = await fetch(logout, { redirect: 'manual' });
  assert.equal(page.status, 200, `the end-session URL answered ${page.status}`);
  await page.arrayBuffer();
});

test('jwt-client (private_key_jwt, ES256 ID tokens) and secret-jwt-client (client_secret_jwt, EdDSA ID tokens): code flow and ID token', async () => {
  const provider = await g.discover(OIDC);
  const jwt = new g.Client(provider, 'jwt-client', { signingKey: g.SigningKey.fromJwk(JWT_KEY), redirectUri: CALLBACK });
  assert.equal(jwt.authMethod, 'private_key_jwt');
  const a = await login(jwt, ['openid']);
  assert.equal((await jwt.validateIdToken(a.tokens, a.pending)).algorithm, 'ES256');
  const secret = new g.Client(provider, 'secret-jwt-client', { clientSecret: SECRET_JWT, authMethod: 'client_secret_jwt', redirectUri: CALLBACK });
  const b = await login(secret, ['openid']);
  assert.equal((await secret.validateIdToken(b.tokens, b.pending)).algorithm, 'EdDSA');
});

test('key rotation mid-session: the new ID token (kid rsa-2...) validates after exactly one JWKS refetch', async () => {
  const provider = await g.discover(OIDC);
  const f = countingFetch();
  const jwks = new URL(provider.jwksUri).pathname;
  // The refetch interval at its minimum (1 s) so that the test need not wait a minute.
  const client = new g.Client(provider, 'test-client', { clientSecret: 'test-secret', redirectUri: CALLBACK, fetch: f, jwks: { minRefetch: 1 } });
  const first = await login(client, ['openid']);
  const before = await client.validateIdToken(first.tokens, first.pending);
  assert.equal(f.count(jwks), 1);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const rotated = await fetch(`${OIDC}/admin/rotate-keys`, { method: 'POST' });
  assert.equal(rotated.status, 200);
  await rotated.arrayBuffer();
  const second = await login(client, ['openid']);
  const header = JSON.parse(Buffer.from(second.tokens.idToken.split('.')[0], 'base64url'));
  assert.match(header.kid, /^rsa-\d+$/);
  assert.notEqual(header.kid, 'rsa-1');
  const after = await client.validateIdToken(second.tokens, second.pending);
  assert.equal(after.sub, before.sub);
  assert.equal(f.count(jwks), 2);
});

test('client credentials with private_key_jwt (twice: distinct jti) and client_secret_jwt; introspection with private_key_jwt', async () => {
  const provider = await g.discover(OIDC);
  const jwt = new g.Client(provider, 'jwt-client', { signingKey: g.SigningKey.fromJwk(JWT_KEY) });
  const t1 = await jwt.clientCredentials(['api:read']);
  const t2 = await jwt.clientCredentials(['api:read']);
  assert.ok(t1.accessToken && t2.accessToken && t1.accessToken !== t2.accessToken);
  const active = await jwt.introspect(t1.accessToken);
  assert.equal(active.active, true);
  const secret = new g.Client(provider, 'secret-jwt-client', { clientSecret: SECRET_JWT, authMethod: 'client_secret_jwt' });
  assert.ok((await secret.clientCredentials(['api:read'])).accessToken);
});

test('resource indicators: client credentials with resource=urn:example:jwt-api gives a JWT access token', async () => {
  const provider = await g.discover(OIDC);
  const jwt = new g.Client(provider, 'jwt-client', { signingKey: g.SigningKey.fromJwk(JWT_KEY) });
  const t = await jwt.clientCredentials(['api:read'], { params: [['resource', 'urn:example:jwt-api']] });
  assert.equal(t.accessToken.split('.').length, 3, 'a JWT access token');
  const keys = g.JwkSet.fromJson(await (await fetch(provider.jwksUri)).text());
  const verified = keys.verify(t.accessToken, ['RS256', 'PS256', 'ES256', 'EdDSA']);
  assert.equal(verified.claims().aud, 'urn:example:jwt-api');
});

test('token exchange with two resource and two audience values', async () => {
  const provider = await g.discover(OIDC);
  const client = new g.Client(provider, 'test-client', { clientSecret: 'test-secret' });
  const subject = await client.clientCredentials(['api:read']);
  const exchanged = await client.tokenExchange({
    subjectToken: subject.accessToken, subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    resource: ['urn:example:api', 'urn:example:other'], audience: ['aud-a', 'aud-b'],
  });
  assert.equal(exchanged.issuedTokenType, 'urn:ietf:params:oauth:token-type:access_token');
  assert.deepEqual(exchanged.extra.exchanged.resource, ['urn:example:api', 'urn:example:other']);
  assert.deepEqual(exchanged.extra.exchanged.audience, ['aud-a', 'aud-b']);
});
