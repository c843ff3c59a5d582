// The convenient layer of the npm package against real authorization servers (oidc-provider,
// Authlib, oauth2-mock-server), started on 127.0.0.1 by tests/interop/servers.sh, which
// exports GRANTLINE_OIDC_URL / GRANTLINE_AUTHLIB_URL / GRANTLINE_MOCK_URL. Run by
// bindings-wasm/test.sh; a missing variable fails (never skips) the tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as g from 'grantline';

const CALLBACK = 'http://127.0.0.1:8765/callback';
const SECRET = 'test-secret';

function server(name) {
  const url = process.env[name];
  assert.ok(url, `${name} is not set: run under tests/interop/servers.sh run -- ...`);
  return url.replace(/\/$/, '');
}
const OIDC = server('GRANTLINE_OIDC_URL');
const AUTHLIB = server('GRANTLINE_AUTHLIB_URL');
const MOCK = server('GRANTLINE_MOCK_URL');

// Discovery from the issuer (the well-known URLs built from it), and from a full well-known URL.
const oidc = () => g.discover(OIDC);
const authlib = () => g.Provider.discover(AUTHLIB);
// The mock server's metadata lists only `none` although it checks test-client's secret.
const mock = async () => (await g.Provider.discover(`${MOCK}/.well-known/openid-configuration`)).with({ authMethod: 'client_secret_basic' });

const confidential = (provider, options = {}) => new g.Client(provider, 'test-client', { clientSecret: SECRET, redirectUri: CALLBACK, ...options });
const publicClient = (provider) => new g.Client(provider, 'public-client', { redirectUri: CALLBACK });

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

/** A scripted browser: follows redirects by hand with a cookie jar, stops at `stopAt`. */
class Browser {
  cookies = new Map();
  async get(url) { return this.send(url, { method: 'GET' }); }
  async post(url, fields) {
    return this.send(url, { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  async send(url, init) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    return res;
  }
  /** Follows redirects from `res` (the answer for `url`) until one points at `stopAt`. */
  async follow(url, res, stopAt) {
    for (let hop = 0; hop < 20; hop += 1) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { url, res };
      const next = new URL(location, url).href;
      await res.arrayBuffer();
      if (stopAt && next.startsWith(stopAt)) return { stopped: next };
      url = next;
      res = await this.get(url);
    }
    throw new Error('too many redirects');
  }
  async authorize(url) {
    const end = await this.follow(url, await this.get(url), CALLBACK);
    assert.ok(end.stopped, `the authorization ended at ${end.url} (${end.res && end.res.status})`);
    return end.stopped;
  }
}

const oidcAuthorization = { scopes: ['openid', 'offline_access', 'api:read'], params: [['resource', 'urn:example:api'], ['prompt', 'consent']] };

/** The whole authorization code flow against a server that approves at once. */
async function codeFlow(client, options) {
  const auth = client.authorizationUrl(options);
  // The pending record survives a round trip through storage (a cookie, a KV store).
  const stored = auth.pending.serialize();
  const callback = await new Browser().authorize(auth.url);
  const grant = client.callback(g.PendingAuthorization.deserialize(stored), callback);
  return client.exchangeCode(grant);
}

async function authlibMe(token) {
  return fetch(`${AUTHLIB}/api/me`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

async function rejects(promise, cls, code) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e && e.stack}`);
    assert.ok(e instanceof g.GrantlineError && e instanceof Error);
    assert.equal(e.name, cls.name);
    if (code !== undefined) assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${cls.name}${code ? ` ${code}` : ''}, but it succeeded`);
}

test('client credentials: oidc-provider with Basic, Authlib with the secret in the body, the mock server', async () => {
  const viaBasic = await confidential(await oidc()).clientCredentials([]);
  assert.ok(viaBasic.accessToken.length > 10);
  assert.equal(viaBasic.tokenType, 'Bearer');
  assert.ok(viaBasic.expiresAt > Date.now() / 1000);

  const fetchSpy = countingFetch();
  const inBody = confidential(await authlib(), { authMethod: 'client_secret_post', fetch: fetchSpy });
  const t = await inBody.clientCredentials(['read']);
  assert.equal(fetchSpy.count('/token'), 1);
  const me = await authlibMe(t.accessToken);
  assert.equal(me.status, 200);
  assert.equal((await me.json()).client_id, 'test-client');

  assert.ok((await confidential(await mock()).clientCredentials([])).accessToken);
});

test('authorization code + PKCE: oidc-provider (confidential and public clients) and Authlib', async () => {
  const provider = await oidc();
  const t = await codeFlow(confidential(provider), oidcAuthorization);
  assert.ok(t.refreshToken && t.idToken);
  const pub = await codeFlow(publicClient(provider), { scopes: ['openid'], params: [['prompt', 'consent']] });
  assert.ok(pub.accessToken);
  const a = await codeFlow(confidential(await authlib()), { scopes: ['read', 'profile'] });
  assert.equal((await authlibMe(a.accessToken)).status, 200);
});

test('discovery is bound to the issuer: a document naming another issuer is refused', async () => {
  const provider = await oidc();
  assert.equal(provider.issuer, OIDC);
  assert.equal((await authlib()).issuer, AUTHLIB);
  // A server at OIDC's URLs that serves Authlib's document: a mix-up, refused.
  const mixUp = (input, init) => fetch(String(input).replace(OIDC, AUTHLIB), init);
  const e = await rejects(g.discover(OIDC, { fetch: mixUp }), g.StateMismatchError);
  assert.equal(e.kind, 'issuer_mismatch');
  const seen = [];
  const d = new g.Discovery(OIDC);
  for (;;) {
    const r = d.request();
    seen.push(r.url);
    const res = await fetch(r.url, { ...r, redirect: 'manual' });
    const p = d.receive({ status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) });
    if (p) { assert.equal(p.issuer, OIDC); break; }
  }
  assert.deepEqual(seen, d.urls.slice(0, seen.length));
  // An issuer whose well-known URLs are all 404: the last 404 is the answer.
  const missing = await rejects(g.discover(`${OIDC}/no-such-tenant`), g.MalformedResponseError);
  assert.equal(missing.status, 404);
});

test('a callback with a foreign state is refused before any request', async () => {
  const client = confidential(await oidc());
  const auth = client.authorizationUrl(oidcAuthorization);
  const e = (() => { try { client.callback(auth.pending, `${CALLBACK}?code=abc&state=forged`); } catch (err) { return err; } })();
  assert.ok(e instanceof g.StateMismatchError, String(e));
  assert.equal(e.kind, 'state_mismatch');
});

test('refresh with rotation: oidc-provider rotates, the old refresh token is dead, onTokens sees the rotation', async () => {
  const client = confidential(await oidc());
  const first = await codeFlow(client, oidcAuthorization);
  const second = await client.refresh(first.refreshToken);
  assert.ok(second.refreshToken && second.refreshToken !== first.refreshToken, 'rotated');
  await rejects(client.refresh(first.refreshToken), g.OAuthError, 'invalid_grant');

  // A session over fresh tokens: a rejected token renews once, and the rotation is reported.
  const fresh = await codeFlow(client, oidcAuthorization);
  const seen = [];
  const session = g.TokenSession.fromTokens(client, fresh, { onTokens: (tokens, info) => { seen.push([tokens.serialize(), info.refreshTokenRotated]); } });
  assert.equal(await session.getAccessToken(), fresh.accessToken);
  assert.equal(session.reject(fresh.accessToken), true);
  const renewed = await session.getAccessToken();
  assert.notEqual(renewed, fresh.accessToken);
  assert.equal(seen.length, 1);
  const persisted = g.TokenSet.deserialize(seen[0][0]);
  assert.equal(seen[0][1], true);
  assert.equal(persisted.accessToken, renewed);
  assert.notEqual(persisted.refreshToken, fresh.refreshToken);
  assert.equal(session.tokens.refreshToken, persisted.refreshToken);
});

test('refresh keeps the refresh token when Authlib rotates, and the password grant (plus a wrong password)', async () => {
  const client = confidential(await authlib());
  const t = await client.password('alice', 'wonderland', ['read']);
  assert.ok(t.refreshToken);
  const me = await authlibMe(t.accessToken);
  assert.equal((await me.json()).sub, 'alice');
  const r = await client.refresh(t.refreshToken, ['read']);
  assert.ok(r.refreshToken && r.refreshToken !== t.refreshToken);
  // Authlib answers a wrong password with invalid_request (RFC 6749 says invalid_grant).
  const e = await rejects(client.password('alice', 'looking-glass', ['read']), g.OAuthError, 'invalid_request');
  assert.equal(e.status, 400);
  await rejects(confidential(await mock()).password('alice', 'wrong', []), g.OAuthError, 'invalid_grant');
});

test('introspection and revocation: oidc-provider and Authlib', async () => {
  for (const [provider, scopes] of [[await oidc(), []], [await authlib(), ['read']]]) {
    const client = confidential(provider);
    const t = await client.clientCredentials(scopes);
    const info = await client.introspect(t.accessToken, { hint: 'access_token' });
    assert.equal(info.active, true, provider.name);
    assert.equal(info.clientId, 'test-client');
    await client.revoke(t.accessToken, 'access_token');
    assert.equal((await client.introspect(t.accessToken)).active, false, provider.name);
  }
});

test('device flow: oidc-provider says pending, the user approves, polling yields tokens', async () => {
  const client = confidential(await oidc());
  const device = await client.deviceAuthorization(['openid', 'offline_access']);
  assert.ok(device.userCode && device.verificationUri.startsWith(OIDC));
  assert.ok(!String(device).includes(device.deviceCode));
  // One sans-IO poll before approval: pending.
  const poll = client.deviceTokenRequest(device.deviceCode);
  const early = await fetch(poll.url, poll);
  assert.equal((await g.parseDevicePollResponse(early, device.interval)).poll, 'pending');

  // The user, on a second screen.
  const browser = new Browser();
  const url = device.verificationUriComplete;
  const page = await browser.follow(url, await browser.get(url));
  const html = await page.res.text();
  const input = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
  const confirmed = await browser.post(device.verificationUri, { xsrf: input('xsrf'), user_code: input('user_code'), confirm: 'yes' });
  const done = await browser.follow(device.verificationUri, confirmed);
  assert.equal(done.res.status, 200);

  const t = await client.pollDeviceToken(device);
  assert.ok(t.accessToken && t.refreshToken);
});

test('JSON bodies with an audience parameter against Authlib', async () => {
  const provider = g.Provider.custom({
    name: 'json-authlib', tokenEndpoint: `${AUTHLIB}/token`, introspectionEndpoint: `${AUTHLIB}/introspect`,
    bodyEncoding: 'json', authMethod: 'client_secret_post', extraTokenParams: [['audience', 'https://api.example.com']],
    grants: ['client_credentials', 'password', 'refresh_token'],
  });
  const client = confidential(provider);
  const request = client.clientCredentialsRequest(['read']);
  assert.equal(request.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(request.body).audience, 'https://api.example.com');
  const t = await client.clientCredentials(['read']);
  assert.equal((await authlibMe(t.accessToken)).status, 200);
  const p = await client.password('alice', 'wonderland', ['read']);
  assert.ok((await client.refresh(p.refreshToken, ['read'])).accessToken);
});

test('1,000 concurrent getAccessToken() calls cause exactly one token request', async () => {
  const spy = countingFetch();
  const client = confidential(await oidc(), { fetch: spy });
  const session = g.TokenSession.clientCredentials(client, []);
  const tokens = await Promise.all(Array.from({ length: 1000 }, () => session.getAccessToken()));
  assert.equal(spy.count('/token'), 1);
  assert.equal(new Set(tokens).size, 1);
  // Cached: more calls, no more requests.
  await Promise.all(Array.from({ length: 100 }, () => session.getAccessToken()));
  assert.equal(spy.count('/token'), 1);
  // 1,000 rejections of the same token: one renewal.
  for (let i = 0; i < 1000; i += 1) session.reject(tokens[0]);
  const renewed = await Promise.all(Array.from({ length: 1000 }, () => session.getAccessToken()));
  assert.equal(spy.count('/token'), 2);
  assert.equal(new Set(renewed).size, 1);
  assert.notEqual(renewed[0], tokens[0]);
});

test('session.fetch: a 401 invalid_token renews once and retries once', async () => {
  const spy = countingFetch();
  const client = confidential(await authlib(), { fetch: spy });
  const session = g.TokenSession.clientCredentials(client, ['read']);
  const ok = await session.fetch(`${AUTHLIB}/api/me`);
  assert.equal(ok.status, 200);
  assert.equal(spy.count('/token'), 1);
  // The server revokes the token: the API says 401 invalid_token.
  await client.revoke(await session.getAccessToken(), 'access_token');
  const again = await session.fetch(`${AUTHLIB}/api/me`, { headers: { accept: 'application/json' } });
  assert.equal(again.status, 200);
  assert.equal(spy.count('/token'), 2, 'one renewal');
  assert.equal(spy.count('/api/me'), 3, 'the first call, the refused one, one retry');

  // A token the API keeps refusing: one renewal, one retry, then the 401 reaches the caller.
  const refusing = (input, init) => (String(input).endsWith('/api/me')
    ? Promise.resolve(new Response('', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }))
    : spy(input, init));
  const stubborn = g.TokenSession.clientCredentials(confidential(await authlib(), { fetch: refusing }), ['read']);
  const before = spy.count('/token');
  assert.equal((await stubborn.fetch(`${AUTHLIB}/api/me`)).status, 401);
  assert.equal(spy.count('/token') - before, 2, 'the first token and one renewal');
});

test('errors: documented classes, names, codes and statuses', async () => {
  const provider = await oidc();
  const wrong = new g.Client(provider, 'test-client', { clientSecret: 'not-the-secret' });
  const e = await rejects(wrong.clientCredentials([]), g.OAuthError, 'invalid_client');
  assert.equal(e.status, 401);
  assert.equal(e.kind, 'oauth');
  assert.equal(e.fault, 'server');
  assert.equal(typeof e.description, 'string');
  await rejects(confidential(provider).clientCredentials(['admin']), g.OAuthError, 'invalid_scope');

  const dead = g.Provider.custom({ tokenEndpoint: 'http://127.0.0.1:9/token', grants: ['client_credentials'] });
  const t = await rejects(confidential(dead).clientCredentials([]), g.TransportError);
  assert.equal(t.kind, 'transport');

  const c = assert.throws(() => g.Provider.custom({ tokenEndpoint: 'http://as.example/token' }), g.ConfigurationError);
  assert.throws(() => g.Provider.custom({ tokenEndpoint: 'https://as.example/token', colour: 'blue' }), (err) => err instanceof g.ConfigurationError && /colour/.test(err.message));
  assert.equal(c, undefined);
  assert.throws(() => confidential(g.Provider.libroStaging()).clientCredentialsRequest([]), (err) => err instanceof g.ConfigurationError && err.kind === 'unsupported_grant' && err.grant === 'client_credentials');
  assert.throws(() => g.parseTokenResponse({ status: 502, body: '<html>Bad gateway</html>' }), (err) => err instanceof g.MalformedResponseError && err.status === 502 && err.excerpt === '<html>Bad gateway</html>');
  await rejects(g.TokenSession.fromTokens(confidential(provider), new g.TokenSet({ accessToken: 'x', expiresAt: 1 })).getAccessToken(), g.ReauthorizationRequiredError);
});

test('no secret in any error message, toString or inspection', async () => {
  const util = await import('node:util');
  const provider = await oidc();
  const client = confidential(provider);
  const t = await codeFlow(client, oidcAuthorization);
  const secrets = [SECRET, t.accessToken, t.refreshToken, t.idToken, 'p4ssw0rd-sekrit', 'the-code-0123456789'];
  const auth = client.authorizationUrl(oidcAuthorization);
  const pending = JSON.parse(auth.pending.serialize());
  secrets.push(pending.state, pending.code_verifier);
  const device = await client.deviceAuthorization(['openid']);
  secrets.push(device.deviceCode);

  const shown = [];
  const show = (x) => shown.push(String(x), util.inspect(x, { depth: 5 }), x instanceof Error ? `${x.message} ${x.stack}` : '');
  show(client); show(t); show(auth); show(auth.pending); show(device); show(provider);
  show(new g.CodeGrant('the-code-0123456789', pending.code_verifier, CALLBACK));
  const withPassword = confidential(await authlib());
  show(withPassword.passwordRequest('alice', 'p4ssw0rd-sekrit', []));
  show(client.refreshRequest(t.refreshToken, []));
  show(client.authorizationCodeRequest(new g.CodeGrant('the-code-0123456789', pending.code_verifier, CALLBACK)));
  show(client.introspectionRequest(t.accessToken, { refreshToken: t.refreshToken }));
  show(client.deviceTokenRequest(device.deviceCode));
  const session = g.TokenSession.fromTokens(client, t);
  show(session);
  const failures = await Promise.allSettled([
    new g.Client(provider, 'test-client', { clientSecret: SECRET + '-wrong' }).clientCredentials([]),
    client.refresh('the-code-0123456789'),
    client.exchangeCode(new g.CodeGrant('the-code-0123456789', pending.code_verifier, CALLBACK)),
    withPassword.password('alice', 'p4ssw0rd-sekrit', []),
  ]);
  for (const f of failures) {
    assert.equal(f.status, 'rejected');
    show(f.reason);
  }
  for (const body of [JSON.stringify(t.accessToken), `${t.accessToken}`, `<p>${t.refreshToken}</p>`]) {
    try { g.parseTokenResponse({ status: 500, body }); } catch (e) { show(e); }
    try { g.parseTokenResponse({ status: 200, body }); } catch (e) { show(e); }
  }
  try { client.callback(auth.pending, `${CALLBACK}?code=the-code-0123456789&state=${pending.state}x`); } catch (e) { show(e); }
  const text = shown.join('\n');
  for (const s of secrets) assert.ok(s && !text.includes(s), `a secret leaked: ${s.slice(0, 4)}…`);
  assert.ok(text.includes('[redacted]'));
});
