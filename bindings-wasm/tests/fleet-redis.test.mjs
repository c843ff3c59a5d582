// Shared sessions over a real Redis (issue 12): `grantline/redis` with node-redis, against the
// rotating token server of tests/load. Run under `tests/interop/servers.sh run` (it exports
// GRANTLINE_REDIS_URL and GRANTLINE_LOAD_URL); skipped, saying so, when they are unset.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as g from 'grantline';
import { redisStore } from 'grantline/redis';
import { createClient } from 'redis';

const REDIS = process.env.GRANTLINE_REDIS_URL;
const LOAD = process.env.GRANTLINE_LOAD_URL;
const skip = !REDIS
  ? 'GRANTLINE_REDIS_URL is not set (run under tests/interop/servers.sh run)'
  : !LOAD ? 'GRANTLINE_LOAD_URL is not set (run under tests/interop/servers.sh run)' : false;

const KEY = randomBytes(32);
const keys = [{ kid: 'k1', key: new Uint8Array(KEY) }];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let n = 0;
const uniqueName = (what) => `js-${what}-${process.pid}-${(n += 1)}-${randomBytes(3).toString('hex')}`;

// Every client and store made here is closed at the end.
const clients = [];
const stores = [];
after(async () => {
  for (const s of stores) await s.close().catch(() => {});
  for (const c of clients) c.destroy();
});

/** A connected node-redis client (`url`: default the test Redis). */
async function redis(url = REDIS, options = {}) {
  const c = createClient({ url, disableOfflineQueue: true, ...options });
  c.on('error', () => {});
  clients.push(c);
  await c.connect();
  return c;
}
function storeOf(client, options) {
  const s = redisStore(client, options);
  stores.push(s);
  return s;
}

async function load(method, path, body) {
  const r = await fetch(`${LOAD}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  assert.equal(r.status, 200, `${method} ${path}`);
  return r.json();
}

/** A client of the load server whose fetch counts token requests (`delay` ms before each). */
function loadClient(name, delay = 0) {
  const counted = async (input, init) => {
    counted.requests += 1;
    if (delay) await sleep(delay);
    return fetch(input, init);
  };
  counted.requests = 0;
  const provider = g.Provider.custom({
    name: 'load', tokenEndpoint: `${LOAD}/token`, grants: ['client_credentials', 'password', 'refresh_token'],
    authMethod: 'client_secret_post',
  });
  return { client: new g.Client(provider, `js-${name}`, { clientSecret: 'load-secret', fetch: counted }), counted };
}

/** A free TCP port nobody listens on (a Redis that is down). */
function closedPort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('two processes (two Redis clients) sharing one name: one token request for 200 callers', { skip }, async () => {
  await load('POST', '/admin/reset', { lifetime: 3600, fail_rate: 0, delay: 0.05 });
  const name = uniqueName('share');
  const { client, counted } = loadClient(name);
  const sources = [];
  const [a, b] = await Promise.all([0, 1].map(async () => g.TokenSession.clientCredentials(client, [], {
    store: storeOf(await redis()), fleet: { name, keys }, onTokens: (t, info) => sources.push(info.source),
  })));
  const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).getAccessToken()));
  assert.equal(new Set(tokens).size, 1);
  assert.equal(counted.requests, 1);
  assert.equal((await load('GET', '/admin/stats')).token_requests, 1);
  assert.deepEqual(sources.sort(), ['http', 'store']);
  const stored = await (await redis()).get(`grantline:{${name}}`);
  assert.equal(JSON.parse(stored).version, 1);
  assert.doesNotMatch(stored, new RegExp(tokens[0]), 'encrypted at rest');
  assert.equal(g.StoreEntry.open(stored, { keys }).tokens.accessToken, tokens[0]);
});

test('a cached token costs no Redis command', { skip }, async () => {
  const name = uniqueName('cost');
  const { client } = loadClient(name);
  const r = await redis();
  const session = g.TokenSession.clientCredentials(client, [], { store: storeOf(r), fleet: { name, keys } });
  await session.getAccessToken();
  await session.settled();
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await r.info('stats'))[1]);
  const before = await commands();
  for (let i = 0; i < 1000; i += 1) await session.getAccessToken();
  assert.equal(await commands(), before + 1, 'only the INFO command itself');
  assert.equal(session.fleet.stats.storeOps, 3, 'read, acquire, commit');
});

test('a rotating refresh token across two processes: one refresh per renewal, no reuse, the stored refresh token is current', { skip }, async () => {
  await load('POST', '/admin/reset', { lifetime: 2, fail_rate: 0, delay: 0.05 });
  const name = uniqueName('rotate');
  const { client } = loadClient(name);
  const sessions = await Promise.all([0, 1].map(async () => g.TokenSession.password(client, 'fleet', 'fleet', [], {
    store: storeOf(await redis()), fleet: { name, keys },
  })));
  let api401 = 0;
  const end = Date.now() + 5000;
  await Promise.all(Array.from({ length: 6 }, async (_, i) => {
    const session = sessions[i % 2];
    while (Date.now() < end) {
      const token = await session.getAccessToken();
      const r = await fetch(`${LOAD}/api`, { headers: { authorization: `Bearer ${token}` } });
      await r.arrayBuffer();
      if (r.status === 401) {
        api401 += 1;
        session.reject(token);
      }
      await sleep(20);
    }
  }));
  await Promise.all(sessions.map((s) => s.settled()));
  const stats = await load('GET', '/admin/stats');
  assert.equal(stats.invalid_grant, 0, JSON.stringify(stats));
  assert.equal(stats.reuse_detected, 0);
  assert.equal(stats.families, 1);
  assert.equal(stats.rotations, stats.token_requests - 1, 'one password grant, then refreshes only');
  // The core renews 1 s before expiry of a 2 s token: a renewal a second or so, for both.
  assert.ok(stats.token_requests >= 3 && stats.token_requests <= 8, `${stats.token_requests} token requests in 5 s`);
  assert.equal(api401, 0);
  const entry = g.StoreEntry.open(await (await redis()).get(`grantline:{${name}}`), { keys });
  assert.equal((await load('POST', '/admin/check', { refresh_token: entry.tokens.refreshToken })).state, 'current');
  assert.equal(entry.version, stats.token_requests);
  const [a, b] = sessions.map((s) => s.fleet.stats);
  assert.equal(a.httpRenewals + b.httpRenewals, stats.token_requests);
});

test('Redis down (a closed port): a client-credentials session gets its token alone; a caller with a valid token never sees the error', { skip }, async () => {
  await load('POST', '/admin/reset', { lifetime: 3600, fail_rate: 0, delay: 0.05 });
  const url = `redis://127.0.0.1:${await closedPort()}/0`;
  // Never connected: with disableOfflineQueue every command fails at once; without it, it
  // waits in the queue until the session's storeTimeout aborts it.
  for (const queue of [false, true]) {
    const down = createClient({ url, disableOfflineQueue: !queue, socket: { reconnectStrategy: 200 } });
    down.on('error', () => {});
    clients.push(down);
    down.connect().catch(() => {});
    const name = uniqueName('down');
    const { client, counted } = loadClient(name);
    const errors = [];
    const cc = g.TokenSession.clientCredentials(client, [], { store: storeOf(down), fleet: { name, keys }, storeTimeout: 300, onError: (e) => errors.push(e) });
    const t0 = Date.now();
    const token = await cc.getAccessToken();
    assert.ok(token, 'a token');
    assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
    assert.equal(counted.requests, 1);
    assert.equal(cc.fleet.stats.storeFailures, 1);
    assert.equal(cc.fleet.stats.fallbackRenewals, 1);
    assert.deepEqual(errors, []);
    assert.equal(await cc.getAccessToken(), token);

    // A refresh with a valid token (due for renewal): the token, and the store error only in onError.
    const now = Math.floor(Date.now() / 1000);
    const held = new g.TokenSet({ accessToken: 'still-valid', refreshToken: 'rt', expiresAt: now + 30, issuedAt: now - 600 });
    const rt = g.TokenSession.fromTokens(client, held, { store: storeOf(down), fleet: { name: `${name}-rt`, keys }, storeTimeout: 300, onError: (e) => errors.push(e) });
    assert.equal(await rt.getAccessToken(), 'still-valid');
    await rt.settled();
    assert.equal(await rt.getAccessToken(), 'still-valid');
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof g.StoreError, String(errors[0]));
    assert.equal(counted.requests, 1, 'no refresh sent alone');
  }
});

test('hostile entries in Redis: a typed error or a renewal alone, never a crash, never overwritten', { skip }, async () => {
  await load('POST', '/admin/reset', { lifetime: 3600, fail_rate: 0, delay: 0.05 });
  const r = await redis();
  const now = Math.floor(Date.now() / 1000);
  const theirs = new g.TokenSet({ accessToken: 'theirs', refreshToken: 'rt-theirs', expiresAt: now + 3600, issuedAt: now });
  const hostile = {
    garbage: '\u0000garbage{"version":',
    'wrong-key': new g.StoreEntry(4, theirs, now).seal({ keys: [{ kid: 'k1', key: new Uint8Array(32) }] }),
    plaintext: new g.StoreEntry(4, theirs, now).seal({ plaintext: true }),
  };
  for (const [what, text] of Object.entries(hostile)) {
    const name = uniqueName(what);
    await r.set(`grantline:{${name}}`, text);
    const { client, counted } = loadClient(name);
    const cc = g.TokenSession.clientCredentials(client, [], { store: storeOf(r), fleet: { name, keys } });
    assert.ok(await cc.getAccessToken(), what);
    assert.equal(counted.requests, 1, what);
    assert.equal(cc.fleet.stats.storeFailures, 1, what);
    assert.equal(await r.get(`grantline:{${name}}`), text, `${what}: never overwritten`);
    const expired = new g.TokenSet({ accessToken: 'x', refreshToken: 'rt-mine', expiresAt: 1, issuedAt: 0 });
    const rt = g.TokenSession.fromTokens(client, expired, { store: storeOf(r), fleet: { name, keys } });
    await assert.rejects(rt.getAccessToken(), (e) => e instanceof g.StoreError && /unreadable/.test(e.message) && !/theirs/.test(e.message), what);
  }
});

test('the scripts run with EVALSHA, and again after SCRIPT FLUSH (NOSCRIPT: EVAL)', { skip }, async () => {
  const r = await redis();
  await r.scriptFlush();
  const name = uniqueName('noscript');
  const { client } = loadClient(name);
  const session = g.TokenSession.clientCredentials(client, [], { store: storeOf(r), fleet: { name, keys } });
  assert.ok(await session.getAccessToken());
  assert.equal(session.fleet.stats.storeFailures, 0);
  assert.equal(session.fleet.stats.committed, 1);
  const sha1 = (text) => createHash('sha1').update(text).digest('hex');
  const shas = await r.scriptExists(Object.values(g.fleetRedisScripts()).map(sha1));
  assert.deepEqual(shas.map(Number), [1, 1, 0], 'acquire and commit loaded by EVAL; release never needed');
});

test('a waiting process wakes at the holder\'s commit (pub/sub), not at the end of its backoff', { skip }, async () => {
  const lag = {};
  for (const watch of ['pubsub', 'sleep']) {
    await load('POST', '/admin/reset', { lifetime: 3600, fail_rate: 0, delay: 0.05 });
    const name = uniqueName(`watch-${watch}`);
    const slow = loadClient(name, 1500);
    const doneAt = {};
    const holder = g.TokenSession.clientCredentials(slow.client, [], {
      store: storeOf(await redis(), { watch }), fleet: { name, keys }, onTokens: () => { doneAt.holder = Date.now(); },
    });
    const waiterStore = storeOf(await redis(), { watch });
    const waiter = g.TokenSession.clientCredentials(loadClient(name).client, [], { store: waiterStore, fleet: { name, keys } });
    const first = holder.getAccessToken();
    await sleep(100);
    const token = await waiter.getAccessToken();
    doneAt.waiter = Date.now();
    assert.equal(token, await first);
    assert.equal(waiter.fleet.stats.adopted, 1);
    lag[watch] = doneAt.waiter - doneAt.holder;
  }
  // Watch timeouts 25, 50, 100, 200, 400, 500, 500 ms: sleeping wakes up to 500 ms late.
  assert.ok(lag.pubsub < 150, `pub/sub: ${lag.pubsub} ms after the commit`);
  assert.ok(lag.sleep > lag.pubsub, `sleep ${lag.sleep} ms, pub/sub ${lag.pubsub} ms`);
});

test('the fleet worker (tests/fleet_worker.mjs): two processes, one token request', { skip }, async () => {
  await load('POST', '/admin/reset', { lifetime: 3600, fail_rate: 0, delay: 0.05 });
  const name = uniqueName('worker');
  const worker = fileURLToPath(new URL('./fleet_worker.mjs', import.meta.url));
  const args = ['--redis', REDIS, '--name', name, '--key-hex', KEY.toString('hex'), '--kid', 'k1',
    '--token-url', `${LOAD}/token`, '--api-url', `${LOAD}/api`, '--client-id', `js-${name}`,
    '--client-secret', 'load-secret', '--grant', 'client_credentials', '--callers', '2', '--seconds', '1.5'];
  const run = () => new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err, events: out.trim().split('\n').map((l) => JSON.parse(l)) });
    });
  });
  const results = await Promise.all([run(), run()]);
  for (const r of results) {
    assert.equal(r.code, 0, r.err);
    assert.equal(r.events[0].event, 'start');
    assert.equal(r.events[0].lang, 'node');
    assert.match(r.events[0].owner, /^[0-9a-f]{32}$/);
    const done = r.events.at(-1);
    assert.equal(done.event, 'done');
    assert.equal(done.errors, 0);
    assert.ok(done.calls > 10, JSON.stringify(done));
    assert.ok(!r.err.includes(KEY.toString('hex')));
  }
  const done = results.map((r) => r.events.at(-1));
  assert.equal(done[0].http_renewals + done[1].http_renewals, 1);
  assert.equal(done[0].adopted + done[1].adopted, 1);
  const renewed = results.flatMap((r) => r.events.filter((e) => e.event === 'renewed')).map((e) => `${e.source}@${e.version}`).sort();
  assert.deepEqual(renewed, ['http@1', 'store@1']);
  assert.equal((await load('GET', '/admin/stats')).token_requests, 1);
});

test('the README\'s Redis example runs as written', { skip }, async () => {
  // Its fleet name is fixed: an entry of an earlier run (under another key) would not open.
  await (await redis()).del('grantline:{bindeo-bookings}');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Sharing one token across processes (Redis)'));
  const code = /```javascript\n([\s\S]*?)```/.exec(section)[1];
  assert.match(code, /from 'grantline\/redis'/);
  const here = fileURLToPath(new URL('..', import.meta.url));
  const r = spawnSync(process.execPath, ['--input-type=module', '--import', './tests/fake-fetch.mjs', '-e', code], {
    cwd: here, encoding: 'utf8', timeout: 30_000, env: { ...process.env, REDIS_URL: REDIS, FLEET_KEY_HEX: KEY.toString('hex') },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /token set 1 from http/);
  assert.match(r.stdout, /httpRenewals: 1/);
  assert.ok(!/access-\d/.test(r.stdout) && !r.stdout.includes(KEY.toString('hex')), r.stdout);
});
