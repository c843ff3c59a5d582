// The Worker that runtimes/workerd.mjs runs in workerd (Cloudflare's runtime), built from the
// npm package as a Worker gets it: `grantline` is the package's `workerd` entry (workerd.js, the
// .wasm imported as a compiled WebAssembly.Module), no bundler, no Node compatibility flag.
// Every token request goes through the Worker's own `fetch` to the load server of
// tests/load (env.LOAD_URL, a loopback address reached through the config's network service).
//
//   GET /vectors   every shared vector (the files are text modules): { passed, failures, ... }
//   GET /checks    the checks below, in order, each against a freshly reset load server:
//                  [{ name, ok, detail }]
//   GET /shared    one token from a session kept across requests (the module's): the driver
//                  sends many of these at once; { token: sha256 of the token, hex }
//
// Tokens never leave the Worker: answers carry digests or counts.
import * as g from 'grantline';
import { runVectorFiles } from './vector-runner.mjs';
import vectorFiles from './vector-files.mjs';

const SECRET = 'load-secret';

function provider(load) {
  return g.Provider.custom({
    name: 'load', tokenEndpoint: `${load}/token`, grants: ['client_credentials', 'password', 'refresh_token'],
    authMethod: 'client_secret_basic',
  });
}

/** A fetch that counts the token requests it sends (the runtime's own fetch underneath). */
function countingFetch() {
  const f = (input, init) => {
    if (new URL(typeof input === 'string' ? input : input.url).pathname === '/token') f.tokenRequests += 1;
    return fetch(input, init);
  };
  f.tokenRequests = 0;
  return f;
}

async function admin(load, path, body) {
  const res = await fetch(`${load}/admin/${path}`, body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`load server /admin/${path}: HTTP ${res.status}`);
  return res.json();
}

/** Resets the load server: tokens of `lifetime` seconds, no injected failure, a 50 ms delay. */
const reset = (load, lifetime) => admin(load, 'reset', { lifetime, fail_rate: 0, delay: 0.05 });
const stats = (load) => admin(load, 'stats');
const refreshState = async (load, token) => (await admin(load, 'check', { refresh_token: token })).state;
const apiStatus = async (load, token) => {
  const res = await fetch(`${load}/api`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sha256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

class CheckFailed extends Error {}
function expect(condition, what) {
  if (!condition) throw new CheckFailed(what);
}

const CHECKS = [
  ['client credentials through the Worker\'s fetch: a token the API accepts', async (load) => {
    await reset(load, 60);
    const t = await new g.Client(provider(load), 'worker', { clientSecret: SECRET }).clientCredentials([]);
    expect(t.tokenType === 'Bearer' && t.accessToken.length > 20, `a token set: ${t}`);
    expect(t.expiresAt > Date.now() / 1000 + 30, `expires at ${t.expiresAt}`);
    expect(await apiStatus(load, t.accessToken) === 200, 'the API accepts it');
    expect((await stats(load)).token_requests === 1, 'one token request');
    // The sans-IO layer over the same fetch: a request built, sent, its Response parsed.
    const client = new g.Client(provider(load), 'worker', { clientSecret: SECRET });
    const r = client.clientCredentialsRequest([]);
    const parsed = await g.parseTokenResponse(await fetch(r.url, r));
    expect(parsed.accessToken !== t.accessToken && await apiStatus(load, parsed.accessToken) === 200, 'sans-IO round');
    return 'token accepted by /api; sans-IO round too';
  }],

  ['50 concurrent getAccessToken(): one token request; 50 rejections: one renewal', async (load) => {
    await reset(load, 60);
    const spy = countingFetch();
    const session = g.TokenSession.clientCredentials(new g.Client(provider(load), 'worker', { clientSecret: SECRET, fetch: spy }), []);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => session.getAccessToken()));
    expect(new Set(tokens).size === 1, `${new Set(tokens).size} different tokens`);
    expect(spy.tokenRequests === 1 && (await stats(load)).token_requests === 1, `${spy.tokenRequests} token requests`);
    await Promise.all(Array.from({ length: 50 }, () => session.getAccessToken()));
    expect(spy.tokenRequests === 1, 'cached: no more requests');
    for (let i = 0; i < 50; i += 1) session.reject(tokens[0]);
    const renewed = await Promise.all(Array.from({ length: 50 }, () => session.getAccessToken()));
    expect(new Set(renewed).size === 1 && renewed[0] !== tokens[0], 'one new token for all');
    expect(spy.tokenRequests === 2 && (await stats(load)).token_requests === 2, `${spy.tokenRequests} token requests`);
    expect(await apiStatus(load, renewed[0]) === 200, 'the API accepts the new token');
    return '1 request for 50 callers, 1 renewal for 50 rejections';
  }],

  ['a short-lived token is renewed: expired after 1 s, the next call gets a new one', async (load) => {
    await reset(load, 1);
    const session = g.TokenSession.clientCredentials(new g.Client(provider(load), 'worker', { clientSecret: SECRET }), []);
    const first = await session.getAccessToken();
    await sleep(1600);
    expect(await apiStatus(load, first) === 401, 'the first token has expired at the server');
    const second = await session.getAccessToken();
    expect(second !== first, 'a new token');
    expect(await apiStatus(load, second) === 200, 'the API accepts it');
    await session.settled();
    expect((await stats(load)).token_requests === 2, 'two token requests');
    return 'renewed after expiry (2 token requests)';
  }],

  ['password session: 50 concurrent callers after a rejection, one refresh; the rotated refresh token reaches onTokens', async (load) => {
    await reset(load, 60);
    const seen = [];
    const session = g.TokenSession.password(new g.Client(provider(load), 'worker', { clientSecret: SECRET }), 'alice', 'wonderland', [], {
      onTokens: (tokens, info) => { seen.push({ refresh: tokens.refreshToken, rotated: info.refreshTokenRotated }); },
    });
    const first = await session.getAccessToken();
    expect(seen.length === 1 && seen[0].refresh, 'onTokens saw the password grant\'s tokens');
    const calls = Array.from({ length: 50 }, () => { session.reject(first); return session.getAccessToken(); });
    const renewed = await Promise.all(calls);
    expect(new Set(renewed).size === 1 && renewed[0] !== first, 'one new token for all');
    const s = await stats(load);
    expect(s.token_requests === 2 && s.rotations === 1 && s.reuse_detected === 0, `stats ${JSON.stringify(s)}`);
    expect(seen.length === 2 && seen[1].rotated === true && seen[1].refresh !== seen[0].refresh, 'onTokens saw the rotation');
    expect(session.tokens.refreshToken === seen[1].refresh, 'the session holds the rotated refresh token');
    expect(await refreshState(load, seen[1].refresh) === 'current', 'the persisted refresh token is current');
    expect(await refreshState(load, seen[0].refresh) === 'used', 'the first one is used');
    return '1 refresh for 50 callers; the persisted refresh token is current';
  }],

  ['session.fetch over the Worker\'s fetch: Bearer attached; a revoked token renewed once, the call retried once', async (load) => {
    await reset(load, 60);
    const spy = countingFetch();
    const client = new g.Client(provider(load), 'worker', { clientSecret: SECRET, fetch: spy });
    const session = g.TokenSession.password(client, 'bob', 'builder', []);
    const ok = await session.fetch(`${load}/api`);
    expect(ok.status === 200 && (await ok.json()).ok === true, `HTTP ${ok.status}`);
    // Presenting the used refresh token again revokes the family: its access token stops working.
    const used = session.tokens.refreshToken;
    expect(await refreshState(load, used) === 'current', 'current');
    const reuse = await client.refresh(used).then(() => 'accepted', (e) => e);
    expect(reuse === 'accepted', `a first refresh with it: ${reuse}`);
    const revoked = await client.refresh(used).then(() => 'accepted', (e) => e);
    expect(revoked instanceof g.OAuthError && revoked.code === 'invalid_grant', `the reuse: ${revoked}`);
    // The session's token is dead now, its refresh token too: the 401 invalid_token makes it
    // renew once (the refresh is refused, the password grant answers) and retry once.
    const before = spy.tokenRequests;
    const again = await session.fetch(`${load}/api`);
    expect(again.status === 200, `after the revocation: HTTP ${again.status}`);
    expect(spy.tokenRequests - before === 2, `${spy.tokenRequests - before} token requests, expected 2 (refresh, password)`);
    const s = await stats(load);
    expect(s.api_401 === 1 && s.api_ok === 2 && s.reuse_detected === 1, `stats ${JSON.stringify(s)}`);
    return '200, revoked: 401 -> refresh refused -> password grant -> 200';
  }],

  ['typed errors: a wrong secret is an OAuthError, a closed port a TransportError', async (load) => {
    await reset(load, 60);
    const wrong = await new g.Client(provider(load), 'worker', { clientSecret: 'not-the-secret-5f3a' }).clientCredentials([]).catch((e) => e);
    expect(wrong instanceof g.OAuthError && wrong instanceof g.GrantlineError && wrong.code === 'invalid_client' && wrong.status === 401, `got ${wrong}`);
    const dead = g.Provider.custom({ tokenEndpoint: 'http://127.0.0.1:9/token', grants: ['client_credentials'] });
    const t = await new g.Client(dead, 'worker', { clientSecret: SECRET, timeout: 5000 }).clientCredentials([]).catch((e) => e);
    expect(t instanceof g.TransportError && t.kind === 'transport', `got ${t}`);
    const text = `${wrong.message} ${wrong.stack} ${t.message} ${t.stack}`;
    expect(!text.includes(SECRET) && !text.includes('not-the-secret-5f3a'), 'no secret in the messages');
    return 'invalid_client (401), transport';
  }],
];

async function runChecks(load) {
  const out = [];
  for (const [name, check] of CHECKS) {
    try {
      out.push({ name, ok: true, detail: await check(load) });
    } catch (e) {
      out.push({ name, ok: false, detail: e instanceof CheckFailed ? e.message : String(e && e.stack || e) });
    }
  }
  return out;
}

// Interop through the Worker's fetch with the third-party servers of tests/interop/servers.sh
// (oidc-provider, Authlib, oauth2-mock-server), as tests/interop.test.mjs does in Node: discovery
// bound to the issuer, then a client-credentials grant from each; a session over Authlib whose
// 20 concurrent callers make one token request.
const INTEROP_SECRET = 'test-secret';
async function interop(env) {
  const out = [];
  const check = async (name, fn) => {
    try {
      out.push({ name, ok: true, detail: await fn() });
    } catch (e) {
      out.push({ name, ok: false, detail: e instanceof CheckFailed ? e.message : String(e && e.stack || e) });
    }
  };
  const confidential = (p, options = {}) => new g.Client(p, 'test-client', { clientSecret: INTEROP_SECRET, ...options });
  await check('oidc-provider: discovery from the issuer, then client credentials', async () => {
    const p = await g.discover(env.OIDC_URL);
    expect(p.issuer === env.OIDC_URL, `issuer ${p.issuer}`);
    const t = await confidential(p).clientCredentials([]);
    expect(t.accessToken.length > 0 && t.tokenType === 'Bearer', 'a bearer token');
    return `token, expires at ${t.expiresAt}`;
  });
  await check('Authlib: discovery, client credentials with a scope', async () => {
    const t = await confidential(await g.Provider.discover(env.AUTHLIB_URL)).clientCredentials(['read']);
    expect(t.accessToken.length > 0 && t.scopes.includes('read'), `scopes ${t.scopes}`);
    return `scopes ${t.scopes.join(' ')}`;
  });
  await check('oauth2-mock-server: discovery from the well-known URL, client_secret_basic', async () => {
    const p = (await g.Provider.discover(`${env.MOCK_URL}/.well-known/openid-configuration`)).with({ authMethod: 'client_secret_basic' });
    const t = await confidential(p).clientCredentials([]);
    expect(t.accessToken.length > 0, 'a token');
    return 'token';
  });
  await check('Authlib: a session with 20 concurrent callers makes one token request', async () => {
    let requests = 0;
    const counting = (input, init) => { requests += 1; return fetch(input, init); };
    const p = await g.Provider.discover(env.AUTHLIB_URL);
    const session = g.TokenSession.clientCredentials(confidential(p, { fetch: counting }), ['read']);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => session.getAccessToken()));
    expect(new Set(tokens).size === 1 && requests === 1, `${new Set(tokens).size} tokens, ${requests} token requests`);
    return '1 token request for 20 callers';
  });
  return out;
}

// A session kept across requests, as a Worker keeps one in module scope.
let shared;

export default {
  async fetch(request, env) {
    const load = env.LOAD_URL;
    const { pathname } = new URL(request.url);
    const json = (value, status = 200) => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
    try {
      if (pathname === '/vectors') return json(await runVectorFiles(vectorFiles));
      if (pathname === '/checks') return json(await runChecks(load));
      if (pathname === '/interop') return json(await interop(env));
      if (pathname === '/shared') {
        if (new URL(request.url).searchParams.has('new')) shared = undefined;
        shared ??= g.TokenSession.clientCredentials(new g.Client(provider(load), 'worker', { clientSecret: SECRET }), []);
        return json({ token: await sha256(await shared.getAccessToken()) });
      }
      return json({ error: 'not found' }, 404);
    } catch (e) {
      return json({ error: String(e && e.stack || e) }, 500);
    }
  },
};
