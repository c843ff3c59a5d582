// TokenSession behaviour that needs no server: an injected fetch plays the token endpoint, and
// a fake clock (Date.now, which the package reads) moves time where a test needs it.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as g from 'grantline';

const realNow = Date.now;
let fakeSeconds;
/** Fixes the clock at `seconds` (Unix seconds) until `tick`/the end of the test. */
function clockAt(seconds) {
  fakeSeconds = seconds;
  Date.now = () => fakeSeconds * 1000;
}
const tick = (seconds) => { fakeSeconds += seconds; };
afterEach(() => { Date.now = realNow; });

function endpoint(answer) {
  const f = async (url, init) => {
    f.calls += 1;
    f.bodies.push(String(init.body ?? ''));
    return answer(f.calls, url, init);
  };
  f.calls = 0;
  f.bodies = [];
  return f;
}
const json = (body, status = 200, headers = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const tokenResponse = (n, extra = {}) => json({ access_token: `access-${n}`, expires_in: 3600, refresh_token: `refresh-${n}`, ...extra });
const client = (fetch, options = {}) => new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's', fetch, ...options });
/** A promise and its resolver: a token endpoint that answers when the test says so. */
function gate() {
  let open;
  const p = new Promise((resolve) => { open = resolve; });
  return { p, open };
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

test('1,000 concurrent callers with no token cause one request, and all get its token', async () => {
  const fetch = endpoint((n) => tokenResponse(n));
  const session = g.TokenSession.clientCredentials(client(fetch));
  const tokens = await Promise.all(Array.from({ length: 1000 }, () => session.getAccessToken()));
  assert.equal(fetch.calls, 1);
  assert.deepEqual(new Set(tokens), new Set(['access-1']));
});

test('a renewal ahead of expiry runs in the background: every caller gets the current token at once', async () => {
  clockAt(1_000_000);
  const held = gate();
  const fetch = endpoint(async (n) => { await held.p; return tokenResponse(n); });
  const saved = [];
  // Expires in 30 s, inside the 60 s skew (capped at half the 100 s lifetime: 50 s).
  const tokens = new g.TokenSet({ accessToken: 'current', refreshToken: 'rt-0', expiresAt: 1_000_030, issuedAt: 999_930 });
  const session = g.TokenSession.fromTokens(client(fetch), tokens, { onTokens: (t) => { saved.push(t.accessToken); } });
  const got = await Promise.all(Array.from({ length: 50 }, () => session.getAccessToken()));
  assert.deepEqual(new Set(got), new Set(['current']), 'nobody waited for the renewal');
  assert.equal(fetch.calls, 1);
  assert.equal(session.renewing, true);
  held.open();
  await settle();
  assert.equal(session.renewing, false);
  assert.deepEqual(saved, ['access-1']);
  assert.equal(await session.getAccessToken(), 'access-1');
  assert.equal(fetch.calls, 1);
});

test('a failed renewal while the token is valid reaches no caller; the next try waits the backoff', async () => {
  clockAt(2_000_000);
  const fetch = endpoint((n) => (n === 1 ? Promise.reject(new TypeError('network down')) : json({ error: 'temporarily_unavailable' }, 503, { 'retry-after': '5' })));
  const logged = [];
  const tokens = new g.TokenSet({ accessToken: 'still-good', expiresAt: 2_000_040, issuedAt: 1_999_900 });
  const session = g.TokenSession.clientCredentials(client(fetch), [], { tokens, onError: (e) => logged.push(e) });
  const first = await Promise.all(Array.from({ length: 20 }, () => session.getAccessToken()));
  assert.deepEqual(new Set(first), new Set(['still-good']));
  await settle();
  assert.equal(fetch.calls, 1);
  assert.equal(session.failures, 1);
  assert.ok(logged[0] instanceof g.TransportError, String(logged[0]));
  assert.match(logged[0].message, /network down/);
  // Within the backoff: the token, and no request.
  assert.equal(await session.getAccessToken(), 'still-good');
  assert.equal(fetch.calls, 1);
  // After it: one more try (a 503 with Retry-After: 5), still invisible to callers.
  tick(1);
  assert.equal(await session.getAccessToken(), 'still-good');
  await settle();
  assert.equal(fetch.calls, 2);
  assert.equal(session.retryAt >= 2_000_006, true, `retry at ${session.retryAt}`);
  tick(4);
  assert.equal(await session.getAccessToken(), 'still-good');
  assert.equal(fetch.calls, 2, 'Retry-After honoured');
  assert.equal(logged.length, 2);
  assert.equal(logged[1].code, 'temporarily_unavailable');
});

test('with no usable token, a failure reaches every waiting caller once; during the backoff callers get it at once', async () => {
  clockAt(3_000_000);
  const fetch = endpoint((n) => (n === 1 ? Promise.reject(new TypeError('network down')) : tokenResponse(n)));
  const session = g.TokenSession.clientCredentials(client(fetch));
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => session.getAccessToken()));
  assert.equal(fetch.calls, 1);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof g.TransportError, String(r.reason));
    assert.equal(r.reason.kind, 'transport');
    assert.match(r.reason.message, /network down/);
  }
  await assert.rejects(session.getAccessToken(), g.TransportError);
  assert.equal(fetch.calls, 1, 'no request during the backoff');
  tick(1);
  assert.equal(await session.getAccessToken(), 'access-2');
  assert.equal(fetch.calls, 2);
});

test('a slow onTokens still sees token sets in renewal order (two renewals back to back, the first save slow)', async () => {
  clockAt(4_000_000);
  const fetch = endpoint((n) => tokenResponse(n));
  const stored = [];
  const events = [];
  const session = g.TokenSession.password(client(fetch), 'alice', 'pw', [], {
    onTokens: async (t, { refreshTokenRotated }) => {
      events.push(`save ${t.accessToken} start`);
      if (t.accessToken === 'access-1') await new Promise((resolve) => setTimeout(resolve, 100));
      stored.push([t.refreshToken, refreshTokenRotated]);
      events.push(`save ${t.accessToken} done`);
    },
  });
  // Renewal 1 (the password grant); its save is slow.
  const first = session.getAccessToken();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fetch.calls, 1);
  // Meanwhile the API refuses access-1: a second renewal is due, but cannot start before the
  // first set was delivered.
  session.reject('access-1');
  const second = session.getAccessToken();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fetch.calls, 1, 'the second renewal waits for the first delivery');
  // access-1 was refused before it reached the first caller: both get access-2.
  assert.equal(await first, 'access-2');
  assert.equal(await second, 'access-2');
  assert.equal(fetch.calls, 2);
  assert.match(fetch.bodies[1], /refresh_token.*refresh-1/, 'the second renewal refreshed');
  assert.deepEqual(events, ['save access-1 start', 'save access-1 done', 'save access-2 start', 'save access-2 done']);
  assert.deepEqual(stored, [['refresh-1', true], ['refresh-2', true]], 'the last stored is the newest refresh token');
});

test('onTokens gets the rotation flag: a refresh answer without a refresh token is no rotation', async () => {
  const seen = [];
  const fetch = endpoint((n) => (n === 1 ? json({ access_token: 'fresh', expires_in: 3600 }) : json({ access_token: 'fresher', expires_in: 3600, refresh_token: 'rt-2' })));
  const tokens = new g.TokenSet({ accessToken: 'old', refreshToken: 'rt-1', expiresAt: 1, issuedAt: 0 });
  const session = g.TokenSession.fromTokens(client(fetch), tokens, { onTokens: (t, info) => seen.push([t.refreshToken, info.refreshTokenRotated]) });
  assert.equal(await session.getAccessToken(), 'fresh');
  session.reject('fresh');
  assert.equal(await session.getAccessToken(), 'fresher');
  assert.deepEqual(seen, [['rt-1', false], ['rt-2', true]]);
});

test('a dead refresh token: invalid_grant reaches the caller once, then reauthorization is required', async () => {
  const fetch = endpoint((n) => (n === 1 ? json({ access_token: 'fresh', expires_in: 3600 }) : json({ error: 'invalid_grant' }, 400)));
  const seen = [];
  const tokens = new g.TokenSet({ accessToken: 'old', refreshToken: 'rt-1', expiresAt: 1, issuedAt: 0 });
  const session = g.TokenSession.fromTokens(client(fetch), tokens, { onTokens: (t, info) => seen.push([t.refreshToken ?? null, info.refreshTokenRotated]) });
  assert.equal(await session.getAccessToken(), 'fresh');
  session.reject('fresh');
  await assert.rejects(session.getAccessToken(), (e) => e instanceof g.OAuthError && e.code === 'invalid_grant');
  await assert.rejects(session.getAccessToken(), g.ReauthorizationRequiredError);
  assert.equal(fetch.calls, 2);
  assert.deepEqual(seen, [['rt-1', false], [null, true]], 'the set without the dead refresh token was handed out to persist');
});

test('a token expired on arrival is served, never renewed in a loop', async () => {
  clockAt(5_000_000);
  const fetch = endpoint((n) => json({ access_token: `late-${n}`, expires_in: 0 }));
  const session = g.TokenSession.clientCredentials(client(fetch));
  const got = await Promise.all(Array.from({ length: 100 }, () => session.getAccessToken()));
  assert.deepEqual(new Set(got), new Set(['late-1']));
  for (let i = 0; i < 100; i += 1) assert.equal(await session.getAccessToken(), 'late-1');
  assert.equal(fetch.calls, 1, 'one request in the same second, however many calls');
  tick(1);
  assert.equal(await session.getAccessToken(), 'late-2');
  for (let i = 0; i < 100; i += 1) await session.getAccessToken();
  assert.equal(fetch.calls, 2);
});

test('DPoP (or any non-Bearer) tokens are never served or sent as Bearer', async () => {
  const fetch = endpoint(() => json({ access_token: 'dpop-bound', token_type: 'DPoP', expires_in: 3600 }));
  const session = g.TokenSession.clientCredentials(client(fetch));
  await assert.rejects(session.getAccessToken(), (e) => e instanceof g.ConfigurationError && e.kind === 'unsupported_token_type' && e.tokenType === 'DPoP');
  const api = endpoint(() => new Response('{}'));
  await assert.rejects(g.TokenSession.fromTokens(client(api), g.parseTokenResponse({ status: 200, body: '{"access_token":"x","token_type":"N_A"}' })).fetch('https://api.example/'), (e) => e.kind === 'unsupported_token_type');
  assert.equal(api.calls, 0, 'nothing was sent');
  const t = g.parseTokenResponse({ status: 200, body: '{"access_token":"x","token_type":"DPoP"}' });
  assert.equal(t.isBearer, false);
  assert.throws(() => t.authorizationHeader(), (e) => e.kind === 'unsupported_token_type');
  assert.equal(g.parseTokenResponse({ status: 200, body: '{"access_token":"x","token_type":"bearer"}' }).authorizationHeader(), 'Bearer x');
});

test('onTokens runs before the token is handed out (also when async); a throwing onTokens fails only the renewing call', async () => {
  const fetch = endpoint((n) => tokenResponse(n));
  const order = [];
  const session = g.TokenSession.clientCredentials(client(fetch), [], {
    onTokens: async (tokens, info) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`persisted ${tokens.accessToken} rotated=${info.refreshTokenRotated}`);
    },
  });
  const token = await session.getAccessToken();
  order.push(`got ${token}`);
  assert.deepEqual(order, ['persisted access-1 rotated=true', 'got access-1']);

  const failing = g.TokenSession.clientCredentials(client(fetch), [], { onTokens: () => { throw new Error('disk full'); } });
  const [first, second] = await Promise.allSettled([failing.getAccessToken(), failing.getAccessToken()]);
  assert.equal(first.status, 'rejected');
  assert.match(String(first.reason), /disk full/);
  assert.equal(second.status, 'fulfilled');
  assert.equal(second.value, 'access-2');
  assert.equal(await failing.getAccessToken(), 'access-2', 'the session kept the new tokens');
  assert.equal(fetch.calls, 2);
});

test('a background renewal whose onTokens throws: no unhandled rejection, onError hears it', async () => {
  clockAt(6_000_000);
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const fetch = endpoint((n) => tokenResponse(n));
    const logged = [];
    const tokens = new g.TokenSet({ accessToken: 'current', refreshToken: 'rt', expiresAt: 6_000_010, issuedAt: 5_999_900 });
    const session = g.TokenSession.fromTokens(client(fetch), tokens, {
      onTokens: async () => { throw new Error('store down'); },
      onError: (e) => { logged.push(e); throw new Error('a logger that throws is ignored'); },
    });
    assert.equal(await session.getAccessToken(), 'current');
    await settle();
    assert.equal(await session.getAccessToken(), 'access-1');
    assert.equal(logged.length, 1);
    assert.match(String(logged[0]), /store down/);
    await settle();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('per-call options: a caller stops waiting at its own deadline, the shared renewal goes on', async () => {
  const held = gate();
  const fetch = endpoint(async (n) => { await held.p; return tokenResponse(n); });
  const session = g.TokenSession.clientCredentials(client(fetch));
  const patient = session.getAccessToken();
  const started = realNow();
  await assert.rejects(session.getAccessToken({ timeout: 50 }), (e) => e instanceof g.TransportError && /50 ms/.test(e.message));
  assert.ok(realNow() - started < 2000);
  const controller = new AbortController();
  const aborted = session.getAccessToken({ signal: controller.signal });
  controller.abort();
  await assert.rejects(aborted, g.TransportError);
  await assert.rejects(session.getAccessToken({ colour: 'blue' }), (e) => e instanceof g.ConfigurationError && /colour/.test(e.message));
  held.open();
  assert.equal(await patient, 'access-1');
  assert.equal(fetch.calls, 1);
});

test('the renewal request has the client deadline: a token endpoint that never answers fails at it', async () => {
  const fetch = endpoint(() => new Promise(() => {}));
  const session = g.TokenSession.clientCredentials(client(fetch, { timeout: 100 }));
  const started = realNow();
  const results = await Promise.allSettled([session.getAccessToken(), session.getAccessToken()]);
  assert.ok(realNow() - started < 3000);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof g.TransportError);
    assert.match(r.reason.message, /100 ms/);
    assert.match(r.reason.message, /POST https:\/\/api\.bindeo\.com\/access_token/);
  }
  assert.equal(fetch.calls, 1);
});

test('session.fetch: Bearer attached, one renewal and one retry on 401, the 401 body not read', async () => {
  const fetch = endpoint((n, url, init) => {
    if (String(url).includes('access_token')) return tokenResponse(n);
    const auth = new Headers(init.headers).get('authorization');
    if (auth === 'Bearer access-1') return new Response('no', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    return new Response(JSON.stringify({ auth, accept: new Headers(init.headers).get('accept') }), { status: 200 });
  });
  const session = g.TokenSession.clientCredentials(client(fetch));
  const res = await session.fetch('https://api.example/x', { headers: { accept: 'text/plain' } });
  assert.equal(res.status, 200);
  // (The endpoint numbers every call: token 1, API, token 3, API.)
  assert.deepEqual(await res.json(), { auth: 'Bearer access-3', accept: 'text/plain' });
  assert.equal(fetch.calls, 4, 'token, API (401), token, API');
  // A large API body is streamed to the caller, not cut at the token endpoint's 1 MiB.
  const big = 'x'.repeat(3 * 1024 * 1024);
  const bigFetch = endpoint((n, url) => (String(url).includes('access_token') ? tokenResponse(n) : new Response(big)));
  const all = await (await g.TokenSession.clientCredentials(client(bigFetch)).fetch('https://api.example/big')).text();
  assert.equal(all.length, big.length);
});

test('a server that answers with a redirect is refused, not followed', async () => {
  const fetch = endpoint(() => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } }));
  const e = await client(fetch).clientCredentials().then(() => assert.fail('expected a TransportError'), (err) => err);
  assert.ok(e instanceof g.TransportError);
  assert.match(e.message, /redirect/);
  assert.equal(fetch.calls, 1);
});

test('SessionState: the state machine, sans-IO, prints without tokens', () => {
  const c = client(undefined);
  const state = new g.SessionState(c, { type: 'client_credentials', scopes: [] });
  const send = state.next(100);
  assert.equal(send.next, 'send');
  assert.equal(send.current, undefined);
  assert.deepEqual({ ...state.next(100) }, { next: 'wait', id: send.id });
  const done = state.receive(send.id, { status: 200, headers: { 'content-type': 'application/json' }, body: '{"access_token":"secret-token-value","expires_in":100}' }, 100);
  assert.equal(done.error, undefined);
  assert.equal(done.renewed.tokens.accessToken, 'secret-token-value');
  assert.equal(state.delivered(send.id), true);
  const ready = state.waited(send.id, 100);
  assert.equal(ready.token, 'secret-token-value');
  assert.ok(!String(ready).includes('secret-token-value') && String(ready).includes('[redacted]'));
  assert.equal(state.readyUntil(), 150);
  assert.throws(() => new g.SessionState(c, { type: 'implicit' }), g.ConfigurationError);
  assert.throws(() => state.receive(77, { status: 200, body: '{}' }, 100), (e) => e.kind === 'unexpected_response');
});

// Aborting callers (issue 10). A renewal is shared: a caller that gives up (its signal, its
// timeout) only stops waiting. The renewal is never cut short, even when that caller was the
// only one: it runs to its answer (or the client's deadline), its tokens reach onTokens (a
// refresh token the server rotated is never lost) and the next caller gets them, without a
// second request. (Cutting it short and calling the core's `abandon` would let a slow token
// endpoint and callers with short deadlines start a new renewal each, none ever finishing.)
test('the only caller aborts mid-renewal: the renewal goes on, its tokens are kept, the next caller gets them', async () => {
  const held = gate();
  const fetch = endpoint(async (n, url, init) => { fetch.signals.push(init.signal); await held.p; return tokenResponse(n); });
  fetch.signals = [];
  const saved = [];
  const tokens = new g.TokenSet({ accessToken: 'expired', refreshToken: 'rt-0', expiresAt: 1, issuedAt: 0 });
  const session = g.TokenSession.fromTokens(client(fetch), tokens, { onTokens: (t, info) => { saved.push([t.refreshToken, info.refreshTokenRotated]); } });
  const controller = new AbortController();
  const aborted = session.getAccessToken({ signal: controller.signal });
  await settle();
  assert.equal(fetch.calls, 1);
  controller.abort(new Error('client went away'));
  await assert.rejects(aborted, (e) => e instanceof g.TransportError && /aborted \(client went away\)/.test(e.message));
  assert.equal(session.renewing, true, 'still renewing');
  assert.equal(fetch.signals[0].aborted, false, 'the token request was not aborted');
  held.open();
  assert.equal(await session.getAccessToken(), 'access-1');
  assert.equal(fetch.calls, 1, 'no second renewal');
  assert.deepEqual(saved, [['refresh-1', true]], 'the rotated refresh token reached onTokens');
});

test('one caller aborts, the others waiting on the same renewal get its token', async () => {
  const held = gate();
  const fetch = endpoint(async (n) => { await held.p; return tokenResponse(n); });
  const session = g.TokenSession.clientCredentials(client(fetch));
  const controller = new AbortController();
  const first = session.getAccessToken({ signal: controller.signal });
  const others = Array.from({ length: 10 }, () => session.getAccessToken());
  await settle();
  controller.abort();
  await assert.rejects(first, g.TransportError);
  held.open();
  assert.deepEqual(new Set(await Promise.all(others)), new Set(['access-1']));
  assert.equal(fetch.calls, 1);
});

test('a slow token endpoint and impatient callers: one renewal, which ends up serving everyone', async () => {
  const held = gate();
  const fetch = endpoint(async (n) => { await held.p; return tokenResponse(n); });
  const session = g.TokenSession.clientCredentials(client(fetch));
  for (let i = 0; i < 20; i += 1) {
    await assert.rejects(session.getAccessToken({ timeout: 5 }), (e) => e instanceof g.TransportError && /gave up waiting/.test(e.message));
  }
  assert.equal(fetch.calls, 1, 'no renewal storm');
  held.open();
  assert.equal(await session.getAccessToken({ timeout: 10_000 }), 'access-1');
  assert.equal(fetch.calls, 1);
});

test('an already aborted signal rejects at once and starts nothing, with a token or without', async () => {
  const fetch = endpoint((n) => tokenResponse(n));
  const session = g.TokenSession.clientCredentials(client(fetch));
  await assert.rejects(session.getAccessToken({ signal: AbortSignal.abort() }), (e) => e instanceof g.TransportError && /getAccessToken: aborted/.test(e.message));
  assert.equal(fetch.calls, 0);
  assert.equal(session.renewing, false);
  assert.equal(await session.getAccessToken(), 'access-1');
  await assert.rejects(session.getAccessToken({ signal: AbortSignal.abort() }), g.TransportError);
  await assert.rejects(session.fetch('https://api.example/x', { signal: AbortSignal.abort() }), g.TransportError);
  assert.equal(fetch.calls, 1, 'neither the token endpoint nor the API was called again');
});

test("session.fetch: the request's own signal also ends the wait for a token; the API is never called", async () => {
  const held = gate();
  const fetch = endpoint(async (n, url) => {
    if (String(url).includes('access_token')) { await held.p; return tokenResponse(n); }
    return new Response('api');
  });
  const session = g.TokenSession.clientCredentials(client(fetch));
  const controller = new AbortController();
  const call = session.fetch(new Request('https://api.example/x', { signal: controller.signal }));
  await settle();
  controller.abort();
  await assert.rejects(call, (e) => e instanceof g.TransportError && /waiting for the token renewal: aborted/.test(e.message));
  held.open();
  assert.equal(await (await session.fetch('https://api.example/y')).text(), 'api');
  assert.equal(fetch.calls, 2, 'one token request, one API call (for the second fetch only)');
});

test('the caller that started a renewal gave up, then onTokens threw: onError hears it', async () => {
  const held = gate();
  const fetch = endpoint(async (n) => { await held.p; return tokenResponse(n); });
  const logged = [];
  const session = g.TokenSession.clientCredentials(client(fetch), [], {
    onTokens: () => { throw new Error('disk full'); },
    onError: (e) => logged.push(e),
  });
  await assert.rejects(session.getAccessToken({ timeout: 5 }), g.TransportError);
  held.open();
  await settle();
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]), /disk full/);
  assert.equal(await session.getAccessToken(), 'access-1', 'the session kept the new tokens');
});

test('SessionState.abandon: a renewal given up on the client side is forgotten, without backoff', () => {
  const state = new g.SessionState(client(undefined), { type: 'client_credentials' });
  const send = state.next(100);
  assert.equal(state.abandon(send.id), true);
  assert.equal(state.abandon(send.id), false);
  assert.equal(state.failures, 0);
  const again = state.waited(send.id, 100);
  assert.equal(again.next, 'send', 'the next caller renews at once');
  assert.throws(() => state.receive(send.id, { status: 200, body: '{"access_token":"late"}' }, 100), (e) => e.kind === 'unexpected_response');
});
