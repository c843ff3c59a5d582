// Shared sessions (issue 12) without a server: TokenSession with a `store` and a `fleet` config
// drives the core's fleet machine over an in-memory store (the FleetStore interface, with the
// atomicity each operation needs, and faults to inject) and an injected token endpoint. Each
// "process" is a session with its own store handle over one shared memory. The fleet machine's
// own rules are the shared vectors' (tests/vectors/fleet.json, run by vectors.test.mjs).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const KEY = new Uint8Array(32).fill(7);
const fleet = (name, extra = {}) => ({ name, keys: [{ kid: 'k1', key: KEY }], ...extra });

/** What Redis holds for every process: entries, leases (with an expiry), and the channels. */
class Memory {
  constructor() {
    this.data = new Map();
    this.leases = new Map();
    this.channels = new Map();
  }

  lease(key) {
    const l = this.leases.get(key);
    if (l && l.until <= Date.now()) {
      this.leases.delete(key);
      return undefined;
    }
    return l;
  }

  publish(channel, version) {
    for (const listener of this.channels.get(channel) || []) listener(version);
  }

  /**
   * One process's store over this memory: a FleetStore. `faults.down`: every call rejects (a
   * refused connection); `faults.hang`: every call never settles; `faults.answer`: replaces
   * every answer. `calls` counts the calls per operation.
   */
  store() {
    const memory = this;
    const calls = { read: 0, acquire: 0, commit: 0, release: 0, watch: 0 };
    const faults = { down: false, hang: false, answer: undefined };
    const gate = async (op) => {
      calls[op] += 1;
      if (faults.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      if (faults.hang) await new Promise(() => {});
    };
    const answer = (v) => (faults.answer === undefined ? v : faults.answer);
    return {
      calls,
      faults,
      total: () => Object.values(calls).reduce((a, b) => a + b, 0),
      async read(op) {
        await gate('read');
        return answer(memory.data.get(op.key) ?? null);
      },
      // SET NX PX, or renew when ours; the entry read in the same step.
      async acquire(op) {
        await gate('acquire');
        const l = memory.lease(op.lease);
        let acquired = false;
        if (!l) {
          memory.leases.set(op.lease, { owner: op.owner, until: Date.now() + op.ttlMs });
          acquired = true;
        } else if (l.owner === op.owner) {
          l.until = Date.now() + op.ttlMs;
          acquired = true;
        }
        return answer({ acquired, leaseTtlMs: memory.lease(op.lease).until - Date.now(), entry: memory.data.get(op.key) ?? null });
      },
      // Compare-and-set on the version, the lease released if ours, the version announced.
      async commit(op) {
        await gate('commit');
        const current = memory.data.get(op.key);
        let version = 0;
        if (current !== undefined) {
          try {
            version = JSON.parse(current).version;
          } catch {
            return answer(false);
          }
          if (typeof version !== 'number') return answer(false);
        }
        const l = memory.lease(op.lease);
        if (l && l.owner === op.owner) memory.leases.delete(op.lease);
        if (version !== op.expectedVersion) return answer(false);
        memory.data.set(op.key, op.entry);
        memory.publish(op.channel, op.version);
        return answer(true);
      },
      async release(op) {
        await gate('release');
        const l = memory.lease(op.lease);
        if (l && l.owner === op.owner) memory.leases.delete(op.lease);
      },
      watch(op) {
        return gate('watch').then(() => new Promise((resolve) => {
          const listeners = memory.channels.get(op.channel) || new Set();
          memory.channels.set(op.channel, listeners);
          const done = () => {
            clearTimeout(timer);
            listeners.delete(heard);
            resolve();
          };
          const heard = (version) => { if (version > op.version) done(); };
          const timer = setTimeout(done, op.timeoutMs);
          listeners.add(heard);
        }));
      },
    };
  }
}

/**
 * A token endpoint: client credentials and password grants, refresh with rotation and reuse
 * detection (a used refresh token revokes the family), `delay` ms per answer. Counts requests.
 */
function tokenServer({ lifetime = 3600, delay = 0 } = {}) {
  const s = { requests: 0, refreshes: 0, reuse: 0, current: undefined, used: new Set(), n: 0 };
  s.fetch = async (url, init) => {
    s.requests += 1;
    const form = new URLSearchParams(String(init.body));
    if (delay) await sleep(delay);
    const issue = (refresh) => {
      s.n += 1;
      const body = { access_token: `access-${s.n}`, token_type: 'Bearer', expires_in: lifetime };
      if (refresh) {
        body.refresh_token = `refresh-${s.n}`;
        s.current = body.refresh_token;
      }
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const refused = (error) => new Response(JSON.stringify({ error }), { status: 400, headers: { 'content-type': 'application/json' } });
    switch (form.get('grant_type')) {
      case 'client_credentials': return issue(false);
      case 'password': return issue(true);
      case 'refresh_token': {
        s.refreshes += 1;
        const rt = form.get('refresh_token');
        if (rt !== s.current) {
          if (s.used.has(rt)) {
            s.reuse += 1;
            s.current = undefined; // the family is revoked
          }
          return refused('invalid_grant');
        }
        s.used.add(rt);
        return issue(true);
      }
      default: return refused('unsupported_grant_type');
    }
  };
  return s;
}

const provider = g.Provider.custom({
  name: 'as', tokenEndpoint: 'https://as.example/token', grants: ['client_credentials', 'password', 'refresh_token'],
});
const clientOf = (server) => new g.Client(provider, 'app', { clientSecret: 'secret', fetch: server.fetch });

/** Waits until every session has no renewal in flight. */
const settled = (...sessions) => Promise.all(sessions.map((s) => s.settled()));

test('two processes sharing one name: 200 callers make one token request; the second takes the token from the store', async () => {
  const memory = new Memory();
  const server = tokenServer({ delay: 20 });
  const infos = [[], []];
  const [a, b] = [0, 1].map((i) => g.TokenSession.clientCredentials(clientOf(server), [], {
    store: memory.store(), fleet: fleet('billing'), onTokens: (t, info) => infos[i].push(info),
  }));
  const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? b : a).getAccessToken()));
  assert.equal(server.requests, 1);
  assert.deepEqual(new Set(tokens), new Set(['access-1']));
  const [sa, sb] = [a.fleet.stats, b.fleet.stats];
  assert.equal(sa.httpRenewals + sb.httpRenewals, 1);
  assert.equal(sa.adopted + sb.adopted, 1);
  assert.equal(sa.committed + sb.committed, 1);
  // onTokens tells where each set came from, and its version in the store.
  const sources = [...infos[0], ...infos[1]].map((i) => `${i.source}@${i.version}`).sort();
  assert.deepEqual(sources, ['http@1', 'store@1']);
  assert.equal(a.fleet.version, 1);
  assert.equal(b.fleet.version, 1);
});

test('a cached token costs no store round trip', async () => {
  const memory = new Memory();
  const server = tokenServer();
  const store = memory.store();
  const session = g.TokenSession.clientCredentials(clientOf(server), [], { store, fleet: fleet('cached') });
  await session.getAccessToken();
  await session.settled();
  const ops = session.fleet.stats.storeOps;
  const calls = store.total();
  assert.equal(ops, calls, 'every store call is counted');
  // read, acquire, commit (which also releases the lease)
  assert.deepEqual(store.calls, { read: 1, acquire: 1, commit: 1, release: 0, watch: 0 });
  for (let i = 0; i < 1000; i += 1) assert.equal(await session.getAccessToken(), 'access-1');
  assert.equal(store.total(), calls);
  assert.equal(session.fleet.stats.storeOps, ops);
  assert.equal(server.requests, 1);
});

test('a rotating refresh token across two processes: each renewal refreshes once with the newest refresh token', async () => {
  clockAt(1_700_000_000);
  const memory = new Memory();
  const server = tokenServer({ lifetime: 600 });
  const persisted = [];
  const sessions = [0, 1].map(() => g.TokenSession.password(clientOf(server), 'alice', 'pw', [], {
    store: memory.store(), fleet: fleet('rotating'), onTokens: (t) => persisted.push(t.refreshToken),
  }));
  const [a, b] = sessions;
  assert.equal(await a.getAccessToken(), 'access-1');
  assert.equal(await b.getAccessToken(), 'access-1', 'b takes a\'s set from the store');
  for (let round = 0; round < 6; round += 1) {
    tick(600 - 30); // inside the renewal margin: both renew ahead of expiry, in the background
    const first = round % 2 ? b : a;
    const second = round % 2 ? a : b;
    const got = await Promise.all([first.getAccessToken(), second.getAccessToken(), first.getAccessToken()]);
    assert.deepEqual(new Set(got), new Set([`access-${round + 1}`]), 'the current token meanwhile');
    await settled(a, b);
    // One refresh per round for the whole fleet, from whichever process took the lease.
    assert.equal(server.refreshes, round + 1);
    assert.equal(server.reuse, 0);
    for (const s of sessions) {
      assert.equal(await s.getAccessToken(), `access-${round + 2}`);
      assert.equal(s.tokens.refreshToken, server.current);
    }
  }
  assert.equal(server.requests, 7);
  // The store holds the newest refresh token, and it is the server's current one.
  const entry = g.StoreEntry.open(memory.data.get('grantline:{rotating}'), { keys: [{ kid: 'k1', key: KEY }] });
  assert.equal(entry.tokens.refreshToken, server.current);
  assert.equal(entry.version, 7);
  assert.equal(persisted.at(-1), server.current);
  const stats = [a.fleet.stats, b.fleet.stats];
  assert.equal(stats[0].httpRenewals + stats[1].httpRenewals, 7);
  assert.equal(stats[0].conflicts + stats[1].conflicts, 0);
});

test('store down: a client-credentials session still gets a token, alone; the store error reaches no caller', async () => {
  const memory = new Memory();
  const server = tokenServer();
  const store = memory.store();
  store.faults.down = true;
  const errors = [];
  const session = g.TokenSession.clientCredentials(clientOf(server), [], {
    store, fleet: fleet('down'), onError: (e) => errors.push(e),
  });
  const tokens = await Promise.all(Array.from({ length: 20 }, () => session.getAccessToken()));
  assert.deepEqual(new Set(tokens), new Set(['access-1']));
  assert.equal(server.requests, 1);
  const stats = session.fleet.stats;
  assert.equal(stats.storeFailures, 1);
  assert.equal(stats.fallbackRenewals, 1);
  assert.equal(session.fleet.storeDown, true, 'backing off from the store');
  assert.deepEqual(errors, [], 'the renewal succeeded: nothing to report');
  // Written to the store at the next renewal that reaches it (here, when it is back).
  assert.equal(memory.data.size, 0);
});

test('store down: a refresh is never sent alone; the StoreError reaches only a caller without a valid token', async () => {
  clockAt(1_700_000_000);
  const memory = new Memory();
  const server = tokenServer();
  server.current = 'rt-0';
  const store = memory.store();
  store.faults.down = true;
  const errors = [];
  const tokens = new g.TokenSet({ accessToken: 'still-valid', refreshToken: 'rt-0', expiresAt: 1_700_000_030, issuedAt: 1_699_999_000 });
  const session = g.TokenSession.fromTokens(clientOf(server), tokens, {
    store, fleet: fleet('refresh-down'), onError: (e) => errors.push(e),
  });
  // Inside the renewal margin: the renewal runs in the background and fails on the store.
  assert.equal(await session.getAccessToken(), 'still-valid');
  await session.settled();
  assert.equal(server.requests, 0, 'no refresh without the store: other processes hold the same refresh token');
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof g.StoreError, String(errors[0]));
  assert.equal(errors[0].kind, 'store');
  assert.equal(errors[0].fault, 'transport');
  assert.match(errors[0].message, /ECONNREFUSED/);
  assert.equal(await session.getAccessToken(), 'still-valid', 'a valid token is always served');
  // Expired: the caller has no token left, and gets the store failure.
  tick(60);
  await assert.rejects(session.getAccessToken(), (e) => e instanceof g.StoreError && e.kind === 'store');
  assert.equal(server.requests, 0);
});

test('store down with renewAloneWhenStoreDown: the refresh is sent alone', async () => {
  clockAt(1_700_000_000);
  const server = tokenServer();
  server.current = 'rt-0';
  const store = new Memory().store();
  store.faults.down = true;
  const tokens = new g.TokenSet({ accessToken: 'old', refreshToken: 'rt-0', expiresAt: 1_699_999_999, issuedAt: 1_699_999_000 });
  const session = g.TokenSession.fromTokens(clientOf(server), tokens, {
    store, fleet: fleet('alone', { renewAloneWhenStoreDown: true }),
  });
  assert.equal(await session.getAccessToken(), 'access-1');
  assert.equal(server.refreshes, 1);
  assert.equal(session.fleet.stats.fallbackRenewals, 1);
});

test('a hung store is a store failure after storeTimeout, never a hang', async () => {
  const server = tokenServer();
  const store = new Memory().store();
  store.faults.hang = true;
  const errors = [];
  const session = g.TokenSession.clientCredentials(clientOf(server), [], {
    store, fleet: fleet('hung'), storeTimeout: 50, onError: (e) => errors.push(e),
  });
  const t0 = realNow();
  assert.equal(await session.getAccessToken(), 'access-1');
  const took = realNow() - t0;
  assert.ok(took >= 45 && took < 2000, `${took} ms`);
  assert.equal(session.fleet.stats.storeFailures, 1);
  assert.equal(session.fleet.stats.fallbackRenewals, 1);
});

test('hostile entries: garbage, another key, a plaintext downgrade: a typed failure or a renewal alone, never a crash, never overwritten', async () => {
  const other = new Uint8Array(32).fill(9);
  const tokens = new g.TokenSet({ accessToken: 'theirs', refreshToken: 'rt-x', expiresAt: 4_000_000_000, issuedAt: 1_700_000_000 });
  const cases = {
    garbage: 'garbage {"version": 9',
    huge: `{"x":"${'a'.repeat(1 << 20)}"}`,
    array: '[1,2,3]',
    'another key': new g.StoreEntry(5, tokens, 1_700_000_000).seal({ keys: [{ kid: 'k1', key: other }] }),
    'unknown kid': new g.StoreEntry(5, tokens, 1_700_000_000).seal({ keys: [{ kid: 'k9', key: KEY }] }),
    'plaintext downgrade': new g.StoreEntry(5, tokens, 1_700_000_000).seal({ plaintext: true }),
  };
  for (const [what, text] of Object.entries(cases)) {
    const memory = new Memory();
    memory.data.set(`grantline:{${what.replace(/ /g, '-')}}`, text);
    const server = tokenServer();
    const errors = [];
    const name = what.replace(/ /g, '-');
    // Client credentials: renews alone (safe), and the hostile entry stays as it was.
    const cc = g.TokenSession.clientCredentials(clientOf(server), [], { store: memory.store(), fleet: fleet(name), onError: (e) => errors.push(e) });
    assert.equal(await cc.getAccessToken(), 'access-1', what);
    assert.equal(cc.fleet.stats.storeFailures, 1, what);
    assert.equal(cc.fleet.stats.adopted, 0, what);
    assert.equal(memory.data.get(`grantline:{${name}}`), text, `${what}: never overwritten`);
    // A refresh without a token: the typed store error, naming the problem without the entry.
    const rt = g.TokenSession.fromTokens(clientOf(server), new g.TokenSet({ accessToken: 'x', refreshToken: 'rt-mine', expiresAt: 1, issuedAt: 0 }), {
      store: memory.store(), fleet: fleet(name),
    });
    await assert.rejects(rt.getAccessToken(), (e) => e instanceof g.StoreError && /unreadable/.test(e.message) && !e.message.includes('theirs') && !e.message.includes('rt-x'), what);
    assert.equal(server.refreshes, 0, what);
  }
});

test('a store answer of the wrong shape is a store failure', async () => {
  for (const wrong of [42, { acquired: 'yes' }, 'text-for-every-op']) {
    const server = tokenServer();
    const store = new Memory().store();
    store.faults.answer = wrong;
    const session = g.TokenSession.clientCredentials(clientOf(server), [], { store, fleet: fleet('shape') });
    assert.equal(await session.getAccessToken(), 'access-1');
    assert.equal(session.fleet.stats.storeFailures, 1, JSON.stringify(wrong));
  }
});

test('a process waiting on another one\'s renewal wakes at its commit (watch), and a dead holder\'s lease is taken over', async () => {
  const memory = new Memory();
  const server = tokenServer({ delay: 150 });
  const a = g.TokenSession.clientCredentials(clientOf(server), [], { store: memory.store(), fleet: fleet('watch') });
  const bStore = memory.store();
  const b = g.TokenSession.clientCredentials(clientOf(server), [], { store: bStore, fleet: fleet('watch') });
  const first = a.getAccessToken();
  await sleep(20); // a holds the lease, its request is out
  assert.equal(await b.getAccessToken(), 'access-1');
  assert.equal(await first, 'access-1');
  assert.ok(bStore.calls.watch >= 1 && bStore.calls.watch <= 5, `watches: ${bStore.calls.watch}`);
  assert.equal(server.requests, 1);

  // A holder that died: its lease stays until its TTL; then the next acquire takes it over.
  const dead = new Memory();
  dead.leases.set('grantline:{takeover}:lease', { owner: 'dead-process', until: Date.now() + 1000 });
  const c = g.TokenSession.clientCredentials(clientOf(server), [], { store: dead.store(), fleet: fleet('takeover', { leaseTtlMs: 1000 }) });
  const t0 = realNow();
  assert.equal(await c.getAccessToken(), 'access-2');
  const took = realNow() - t0;
  assert.ok(took >= 900 && took < 3000, `took over after ${took} ms`);
});

test('options: store and fleet together, a FleetStore, keys as bytes; every class prints without secrets', async () => {
  const c = clientOf(tokenServer());
  const store = new Memory().store();
  assert.throws(() => g.TokenSession.clientCredentials(c, [], { store }), (e) => e instanceof g.ConfigurationError && /both store/.test(e.message));
  assert.throws(() => g.TokenSession.clientCredentials(c, [], { fleet: fleet('x') }), /both store/);
  assert.throws(() => g.TokenSession.clientCredentials(c, [], { store: { read() {} }, fleet: fleet('x') }), /acquire is missing/);
  assert.throws(() => g.TokenSession.clientCredentials(c, [], { store, fleet: fleet('x'), storeTimeout: 0 }), /storeTimeout/);
  assert.throws(() => new g.FleetConfig({ name: 'x' }), /needs keys/);
  assert.throws(() => new g.FleetConfig({ name: 'x', keys: [{ kid: 'k', key: KEY }], plaintext: true }), /not both/);
  assert.throws(() => new g.FleetConfig({ name: 'x', keys: [{ kid: 'k', key: 'a'.repeat(32) }] }), (e) => e.kind === 'invalid_key');
  assert.throws(() => new g.FleetConfig({ name: 'x', keys: [{ kid: 'k', key: new Uint8Array(31) }] }), (e) => e.kind === 'invalid_key');
  assert.throws(() => new g.FleetConfig({ name: 'bad name', keys: [{ kid: 'k', key: KEY }] }), (e) => e.kind === 'invalid_input');
  assert.throws(() => new g.FleetConfig({ name: 'x', keys: [{ kid: 'k', key: KEY }], leaseTtl: 5 }), /unknown FleetConfig option `leaseTtl`/);

  const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
  const config = new g.FleetConfig({ name: 'billing', keys: [{ kid: 'new', key: secret }, { kid: 'old', key: KEY }], owner: 'proc-1', leaseTtlMs: 500 });
  assert.equal(config.leaseTtlMs, 1000, 'at least 1 s');
  assert.deepEqual(config.kids, ['new', 'old']);
  assert.deepEqual(config.storeKeys, { entry: 'grantline:{billing}', lease: 'grantline:{billing}:lease', channel: 'grantline:{billing}:renewed' });
  assert.deepEqual(config.toJSON(), { name: 'billing', owner: 'proc-1', leaseTtlMs: 1000, renewAloneWhenStoreDown: false, protection: { alg: 'A256GCM', kids: ['new', 'old'] } });
  assert.equal(String(config), 'FleetConfig { name: billing, owner: proc-1, A256GCM, kids new, old }');
  for (const shown of [String(config), JSON.stringify(config), inspect(config)]) assert.doesNotMatch(shown, /0123456789abcdef/);
  const random = new g.FleetConfig(fleet('r'));
  assert.match(random.owner, /^[0-9a-f]{32}$/);
  assert.notEqual(random.owner, new g.FleetConfig(fleet('r')).owner);
  assert.equal(new g.FleetConfig({ name: 'p', plaintext: true }).toJSON().protection, 'plaintext');

  // The session with a FleetConfig instance (still usable afterwards), and its view.
  const session = g.TokenSession.clientCredentials(c, [], { store, fleet: config });
  assert.equal(config.name, 'billing');
  await session.getAccessToken();
  assert.deepEqual(Object.keys(session.fleet), ['name', 'owner', 'version', 'storeDown', 'stats']);
  assert.equal(session.fleet.name, 'billing');
  assert.equal(session.fleet.owner, 'proc-1');
  assert.equal(g.TokenSession.clientCredentials(c).fleet, undefined);

  // The entry: sealed text never holds a token; open() and the views.
  const tokens = new g.TokenSet({ accessToken: 'AT-s3cret', refreshToken: 'RT-s3cret', expiresAt: 1_700_003_600, issuedAt: 1_700_000_000 });
  const entry = new g.StoreEntry(3, tokens, 1_700_000_000);
  const sealed = entry.seal(config);
  assert.doesNotMatch(sealed, /s3cret/);
  assert.match(sealed, /"kid":"new"/);
  const back = g.StoreEntry.open(sealed, { keys: [{ kid: 'other', key: KEY }, { kid: 'new', key: secret }] });
  assert.equal(back.tokens.refreshToken, 'RT-s3cret');
  assert.equal(back.version, 3);
  for (const shown of [String(back), JSON.stringify(back), inspect(back)]) assert.doesNotMatch(shown, /s3cret/);
  assert.throws(() => g.StoreEntry.open(sealed, { keys: [{ kid: 'new', key: KEY }] }), (e) => e.kind === 'invalid_input' && /authenticate/.test(e.message));
  assert.throws(() => entry.sealWithNonce(config, new Uint8Array(11)), /12 bytes/);
});

test('FleetState: the machine sans-IO, its actions printed without the entry or the request body', () => {
  clockAt(1_700_000_000);
  const config = new g.FleetConfig({ name: 'plain', plaintext: true, owner: 'me' });
  const state = new g.FleetState(clientOf(tokenServer()), { type: 'password', username: 'alice', password: 'PW-s3cret' }, config);
  const n = state.next();
  assert.equal(n.next, 'perform');
  assert.deepEqual({ ...n.action }, { action: 'store', op: 'read', key: 'grantline:{plain}' });
  let a = state.storeDone(n.id, { entry: null });
  assert.equal(a.op, 'acquire');
  a = state.storeDone(n.id, { acquired: true, leaseTtlMs: 15000, entry: null });
  assert.equal(a.action, 'send');
  assert.match(a.request.body, /PW-s3cret/);
  for (const shown of [String(a), JSON.stringify(a), inspect(a), String(n), JSON.stringify(n)]) assert.doesNotMatch(shown, /s3cret/);
  a = state.receive(n.id, { status: 200, body: '{"access_token":"AT-s3cret","token_type":"Bearer","expires_in":60,"refresh_token":"RT-s3cret"}' });
  assert.equal(a.op, 'commit');
  assert.match(a.entry, /RT-s3cret/, 'plaintext mode: the token set in clear in the store');
  for (const shown of [String(a), JSON.stringify(a), inspect(a)]) assert.doesNotMatch(shown, /s3cret/);
  a = state.storeDone(n.id, { committed: true });
  assert.equal(a.action, 'done');
  assert.equal(a.completion.renewed.tokens.accessToken, 'AT-s3cret');
  assert.equal(state.delivered(n.id), true);
  assert.deepEqual({ ...state.waited(n.id) }, { next: 'ready', token: 'AT-s3cret' });
  assert.equal(state.version, 1);
  assert.deepEqual(state.stats, { storeOps: 3, storeFailures: 0, httpRenewals: 1, fallbackRenewals: 0, adopted: 0, committed: 1, conflicts: 0 });
  assert.equal(state.readyUntilMs(), (1_700_000_060 - 30) * 1000);
  assert.throws(() => state.storeDone(n.id, { bogus: 1 }), /store reply is/);
  for (const shown of [String(state), JSON.stringify(state), inspect(state)]) assert.doesNotMatch(shown, /s3cret/);
});

test('fleetRedisScripts: the core\'s Lua, read-only', () => {
  const s = g.fleetRedisScripts();
  assert.deepEqual(Object.keys(s), ['acquire', 'commit', 'release']);
  assert.match(s.acquire, /'SET', KEYS\[2\], ARGV\[1\], 'NX', 'PX'/);
  assert.match(s.commit, /PUBLISH/);
  assert.ok(Object.isFrozen(s));
});
