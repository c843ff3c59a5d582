// Throughput: grantline (this package, WebAssembly) against oauth4webapi in the same run, on a
// client-credentials token request and its response. Plain Node, process.hrtime.bigint, many
// iterations after a warm-up; prints ns per operation, the ratios and the budget's verdict (the
// budget: a round over a stub fetch, build + parse of a Response, at least as fast as
// oauth4webapi's). Figures only: nothing here fails on a timing. Run: bindings-wasm/test.sh bench
//
// BENCH_BASELINE=<dir of another build of the package> adds that build's round and parse to the
// same interleaved run (e.g. a copy of target/npm/grantline taken before a change), so that a
// change is measured against its baseline on the same machine load. BENCH_ROUNDS (7) and
// BENCH_ITERATIONS (20000) set the length.
import * as g from 'grantline';
import * as oauth from 'oauth4webapi';
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';

const ISSUER = 'https://as.example.com';
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
const BODY = JSON.stringify({
  access_token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl',
  token_type: 'Bearer', expires_in: 3600, scope: 'read write',
});
const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

// Each case runs ROUNDS times, interleaved with the others so that both libraries see the
// same machine load; the best round counts (the machine here is shared and noisy).
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const cases = [];
function measure(name, fn, iterations) { cases.push({ name, fn, iterations, sync: true }); return name; }
function measureAsync(name, fn, iterations) { cases.push({ name, fn, iterations, sync: false }); return name; }
async function runAll() {
  const best = new Map();
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const c of cases) {
      const warm = Math.min(c.iterations / 10, 5000);
      for (let i = 0; i < warm; i += 1) c.sync ? c.fn() : await c.fn();
      const start = process.hrtime.bigint();
      if (c.sync) for (let i = 0; i < c.iterations; i += 1) c.fn();
      else for (let i = 0; i < c.iterations; i += 1) await c.fn();
      const ns = Number(process.hrtime.bigint() - start) / c.iterations;
      best.set(c.name, Math.min(best.get(c.name) ?? Infinity, ns));
    }
  }
  for (const c of cases) console.log(`${c.name.padEnd(58)} ${best.get(c.name).toFixed(0).padStart(7)} ns/op`);
  return best;
}

const ratio = (name, ours, theirs) => console.log(`  ${name}: oauth4webapi / grantline = ${(theirs / ours).toFixed(2)}x${theirs >= ours ? '' : '  (grantline slower)'}`);

// grantline: a round through a client (its fetch a stub), and the sans-IO layer.
const fakeFetch = () => Promise.resolve(new Response(BODY, { status: 200, headers: HEADERS }));
function setUp(lib) {
  const provider = lib.Provider.custom({ issuer: ISSUER, tokenEndpoint: TOKEN_ENDPOINT, grants: ['client_credentials'] });
  return new lib.Client(provider, 'bench-client', { clientSecret: 'bench-secret', fetch: fakeFetch });
}
const client = setUp(g);
const plain = { status: 200, headers: HEADERS, body: BODY };

// oauth4webapi
const as = { issuer: ISSUER, token_endpoint: TOKEN_ENDPOINT };
const oclient = { client_id: 'bench-client' };
const auth = oauth.ClientSecretBasic('bench-secret');
let captured;
const capture = (url, init) => { captured = init; return fakeFetch(); };
const ofetch = { [oauth.customFetch]: capture };

// Sanity: both produce the same token, over the same stub.
const ours = await client.clientCredentials(['read']);
const theirs = await oauth.processClientCredentialsResponse(as, oclient, await oauth.clientCredentialsGrantRequest(as, oclient, auth, new URLSearchParams({ scope: 'read' }), ofetch));
if (ours.accessToken !== theirs.access_token || g.parseTokenResponse(plain).accessToken !== theirs.access_token) {
  throw new Error('the two libraries disagree');
}

// A baseline build of the package (BENCH_BASELINE), loaded beside this one.
let base;
if (process.env.BENCH_BASELINE) {
  base = await import(pathToFileURL(join(resolve(process.env.BENCH_BASELINE), 'node.js')).href);
  if ((await setUp(base).clientCredentials(['read'])).accessToken !== theirs.access_token) throw new Error('the baseline disagrees');
}

const N = Number(process.env.BENCH_ITERATIONS || 20000);
console.log(`node ${process.version}, best of ${ROUNDS} interleaved rounds of ${N} iterations (async cases: N/4)\n`);

const session = g.TokenSession.clientCredentials(client, ['read']);
await session.getAccessToken();
const scopes = ['read'];

const gParse = measure('grantline  parse token response (plain object)', () => g.parseTokenResponse(plain), N);
const gParseResponse = measureAsync('grantline  parse token response (fetch Response)', () => g.parseTokenResponse(new Response(BODY, { status: 200, headers: HEADERS })), N / 4);
const oParse = measureAsync('oauth4webapi processClientCredentialsResponse (Response)', () => oauth.processClientCredentialsResponse(as, oclient, new Response(BODY, { status: 200, headers: HEADERS })), N / 4);
const gBuild = measure('grantline  build client-credentials request', () => client.clientCredentialsRequest(scopes), N);
const oBuild = measureAsync('oauth4webapi clientCredentialsGrantRequest (stub fetch)', () => oauth.clientCredentialsGrantRequest(as, oclient, auth, new URLSearchParams({ scope: 'read' }), ofetch), N / 4);
const gRound = measureAsync('grantline  clientCredentials() round (stub fetch)', () => client.clientCredentials(scopes), N / 4);
const oRound = measureAsync('oauth4webapi request + process round (stub fetch)', async () => oauth.processClientCredentialsResponse(as, oclient, await oauth.clientCredentialsGrantRequest(as, oclient, auth, new URLSearchParams({ scope: 'read' }), ofetch)), N / 4);
const stub = measureAsync('(the stub fetch alone: new Response)', () => fakeFetch(), N / 4);
measureAsync('grantline  TokenSession.getAccessToken() cached', () => session.getAccessToken(), N / 4);
let bRound;
let bParseResponse;
if (base) {
  const bClient = setUp(base);
  bRound = measureAsync('baseline   clientCredentials() round (stub fetch)', () => bClient.clientCredentials(scopes), N / 4);
  bParseResponse = measureAsync('baseline   parse token response (fetch Response)', () => base.parseTokenResponse(new Response(BODY, { status: 200, headers: HEADERS })), N / 4);
}

const best = await runAll();
console.log('');
ratio('parse, from a Response each', best.get(gParseResponse), best.get(oParse));
ratio('parse, grantline from a plain object', best.get(gParse), best.get(oParse));
ratio('build (oauth4webapi also awaits a stub fetch)', best.get(gBuild), best.get(oBuild));
ratio('round', best.get(gRound), best.get(oRound));
const minusStub = (name) => (best.get(name) - best.get(stub)).toFixed(0);
console.log(`  round minus the stub's Response: grantline ${minusStub(gRound)} ns, oauth4webapi ${minusStub(oRound)} ns`);
if (base) {
  console.log(`  this build against the baseline (baseline / this): round ${(best.get(bRound) / best.get(gRound)).toFixed(2)}x, parse from a Response ${(best.get(bParseResponse) / best.get(gParseResponse)).toFixed(2)}x`);
}
const speed = best.get(oRound) / best.get(gRound);
console.log(`\nbudget (throughput): a client-credentials round over a stub fetch at least as fast as oauth4webapi's: ${speed.toFixed(2)}x -> ${speed >= 1 ? 'within budget' : 'OVER budget'}`);
void captured;
