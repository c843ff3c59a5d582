#!/usr/bin/env node
// The Node worker of the cross-language fleet harness (tests/fleet/fleet.py, issue 12): one
// process of a fleet sharing one token session over Redis, through the built npm package as a
// user imports it (`grantline`, `grantline/redis`, node-redis).
//
//   node bindings-wasm/tests/fleet_worker.mjs --redis URL --name NAME --key-hex 64HEX --kid KID
//     --token-url URL/token --api-url URL/api --client-id ID --client-secret SECRET
//     --grant client_credentials|password --callers M --seconds T
//     [--no-store] [--lease-ms MS] [--hold-ms MS]
//
// M callers loop for T seconds: get a token, GET the API with it, reject it on a 401, sleep
// 20 ms. stdout: JSON lines (start, renewed, error, done), see tests/fleet/README.md. Exit 0.
import * as g from 'grantline';
import { redisStore } from 'grantline/redis';
import { createClient } from 'redis';

const USAGE = 'usage: fleet_worker.mjs --redis URL --name NAME --key-hex 64HEX --kid KID --token-url URL '
  + '--api-url URL --client-id ID --client-secret SECRET --grant client_credentials|password --callers M '
  + '--seconds T [--no-store] [--lease-ms MS] [--hold-ms MS]';

function parse(argv) {
  const flags = new Set(['--no-store']);
  const values = new Set(['--redis', '--name', '--key-hex', '--kid', '--token-url', '--api-url', '--client-id',
    '--client-secret', '--grant', '--callers', '--seconds', '--lease-ms', '--hold-ms']);
  const a = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (flags.has(arg)) a[arg] = true;
    else if (values.has(arg) && i + 1 < argv.length) a[arg] = argv[(i += 1)];
    else throw new Error(`unknown or incomplete argument ${arg}\n${USAGE}`);
  }
  for (const required of ['--redis', '--name', '--key-hex', '--kid', '--token-url', '--api-url', '--client-id',
    '--client-secret', '--grant', '--callers', '--seconds']) {
    if (a[required] === undefined) throw new Error(`missing ${required}\n${USAGE}`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(a['--key-hex'])) throw new Error('--key-hex: 64 hex digits');
  if (!['client_credentials', 'password'].includes(a['--grant'])) throw new Error(`--grant: client_credentials or password\n${USAGE}`);
  const number = (name, fallback) => {
    if (a[name] === undefined) return fallback;
    const n = Number(a[name]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: a non-negative number`);
    return n;
  };
  return {
    redis: a['--redis'], name: a['--name'], key: Buffer.from(a['--key-hex'], 'hex'), kid: a['--kid'],
    tokenUrl: a['--token-url'], apiUrl: a['--api-url'], clientId: a['--client-id'], clientSecret: a['--client-secret'],
    grant: a['--grant'], callers: Math.max(1, Math.floor(number('--callers'))), seconds: number('--seconds'),
    store: !a['--no-store'], leaseMs: number('--lease-ms', undefined), holdMs: number('--hold-ms', 0),
  };
}

/** One JSON line on stdout (synchronous on a pipe on Linux: never lost at exit). */
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const t0 = Date.now();
/** A line on stderr (the harness keeps it in its logs), with the seconds since the start. */
const log = (line) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(3)} ${line}\n`);

async function main() {
  const o = parse(process.argv.slice(2));
  const fleetConfig = new g.FleetConfig({
    name: o.name, keys: [{ kid: o.kid, key: new Uint8Array(o.key) }],
    ...(o.leaseMs === undefined ? {} : { leaseTtlMs: o.leaseMs }),
  });
  o.key.fill(0);

  // The transport: the global fetch, with the --hold-ms test hook on token requests (a lease
  // holder waits before its request reaches the server, so that the harness can kill it then).
  let tokenRequests = 0;
  const tokenPath = new URL(o.tokenUrl).pathname;
  const transport = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    if (url.pathname === tokenPath) {
      tokenRequests += 1;
      if (o.store && o.holdMs > 0) await sleep(o.holdMs);
    }
    return fetch(input, init);
  };
  const provider = g.Provider.custom({
    name: 'load', tokenEndpoint: o.tokenUrl, grants: ['client_credentials', 'password', 'refresh_token'],
    authMethod: 'client_secret_post',
  });
  const client = new g.Client(provider, o.clientId, { clientSecret: o.clientSecret, fetch: transport });

  let redis;
  let store;
  if (o.store) {
    // Commands fail at once while Redis is down (no offline queue): the session falls back.
    // Reconnection attempts at most 500 ms apart (node-redis's default goes up to 2 s): the
    // session's own backoff after a store failure doubles from 1 s, and a try that finds the
    // client still reconnecting costs a whole backoff step.
    redis = createClient({
      url: o.redis, disableOfflineQueue: true,
      socket: { reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 500) },
    });
    redis.on('error', (e) => log(`redis: ${e.message}`));
    redis.on('ready', () => log('redis: ready'));
    const connected = redis.connect();
    connected.catch(() => {});
    await Promise.race([connected, sleep(5000)]);
    store = redisStore(redis);
  }

  const options = {
    onTokens: (tokens, info) => emit({
      event: 'renewed', version: info.version ?? 0, source: info.source ?? 'http', refresh_rotated: info.refreshTokenRotated,
    }),
    // Failures that reached no caller (a background renewal): for the logs only.
    onError: (e) => log(`background: ${e && e.kind} ${e && e.message}`),
    ...(o.store ? { store, fleet: fleetConfig } : {}),
  };
  const session = o.grant === 'password'
    ? g.TokenSession.password(client, 'fleet', 'fleet', [], options)
    : g.TokenSession.clientCredentials(client, [], options);

  emit({ event: 'start', lang: 'node', pid: process.pid, owner: fleetConfig.owner });

  let calls = 0;
  let errors = 0;
  let api401 = 0;
  const end = Date.now() + o.seconds * 1000;
  const caller = async () => {
    while (Date.now() < end) {
      try {
        const token = await session.getAccessToken();
        const res = await fetch(o.apiUrl, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        if (res.status === 401) {
          api401 += 1;
          session.reject(token);
        }
        calls += 1;
      } catch (e) {
        errors += 1;
        if (errors === 1 || errors % 100 === 0) log(`caller error ${errors}: ${e && e.kind} ${e && e.message}`);
        emit({ event: 'error', kind: (e && e.kind) || (e && e.name) || 'error', message: String((e && e.message) || e) });
      }
      await sleep(20);
    }
  };
  await Promise.all(Array.from({ length: o.callers }, caller));
  // A renewal still running (its commit, or its answer) ends before the process does: else a
  // refresh token the server rotated could be lost with it.
  await Promise.race([session.settled(), sleep(30_000)]);

  const stats = o.store ? session.fleet.stats : {
    httpRenewals: tokenRequests, adopted: 0, storeOps: 0, storeFailures: 0, fallbackRenewals: 0,
  };
  emit({
    event: 'done', calls, errors, api_401: api401, http_renewals: stats.httpRenewals, adopted: stats.adopted,
    store_ops: stats.storeOps, store_failures: stats.storeFailures, fallback_renewals: stats.fallbackRenewals,
  });
  if (store) await store.close();
  if (redis) redis.destroy();
}

main().then(() => process.exit(0), (e) => {
  log(`fleet_worker: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
