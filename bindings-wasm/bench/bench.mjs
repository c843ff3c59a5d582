// Benchmark: grantline (this package, WebAssembly) against oauth4webapi in the same run, on a
// client-credentials token request and its response. Plain Node, process.hrtime.bigint, many
// iterations after a warm-up; prints ns per operation and the ratio. Run: bindings-wasm/test.sh bench
import * as g from 'grantline';
import * as oauth from 'oauth4webapi';

const ISSUER = 'https://as.example.com';
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
const BODY = JSON.stringify({
  access_token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl',
  token_type: 'Bearer', expires_in: 3600, scope: 'read write',
});
const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

function measure(name, fn, iterations) {
  for (let i = 0; i < Math.min(iterations / 10, 20000); i += 1) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns/op`);
  return ns;
}

async function measureAsync(name, fn, iterations) {
  for (let i = 0; i < Math.min(iterations / 10, 5000); i += 1) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) await fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns/op`);
  return ns;
}

const ratio = (name, ours, theirs) => console.log(`  ${name}: oauth4webapi / grantline = ${(theirs / ours).toFixed(2)}x${theirs >= ours ? '' : '  (grantline slower)'}`);

// grantline
const provider = g.Provider.custom({ issuer: ISSUER, tokenEndpoint: TOKEN_ENDPOINT, grants: ['client_credentials'] });
const fakeFetch = () => Promise.resolve(new Response(BODY, { status: 200, headers: HEADERS }));
const client = new g.Client(provider, 'bench-client', { clientSecret: 'bench-secret', fetch: fakeFetch });
const plain = { status: 200, headers: HEADERS, body: BODY };

// oauth4webapi
const as = { issuer: ISSUER, token_endpoint: TOKEN_ENDPOINT };
const oclient = { client_id: 'bench-client' };
const auth = oauth.ClientSecretBasic('bench-secret');
let captured;
const capture = (url, init) => { captured = init; return fakeFetch(); };
const ofetch = { [oauth.customFetch]: capture };

// Sanity: both produce the same token.
const ours = g.parseTokenResponse(plain);
const theirs = await oauth.processClientCredentialsResponse(as, oclient, await fakeFetch());
if (ours.accessToken !== theirs.access_token) throw new Error('the two libraries disagree');

const N = Number(process.env.BENCH_ITERATIONS || 200000);
console.log(`node ${process.version}, ${N} iterations each\n`);

const gParse = measure('grantline  parse token response (plain object)', () => g.parseTokenResponse(plain), N);
const gParseResponse = await measureAsync('grantline  parse token response (fetch Response)', () => g.parseTokenResponse(new Response(BODY, { status: 200, headers: HEADERS })), N / 4);
const oParse = await measureAsync('oauth4webapi processClientCredentialsResponse (Response)', () => oauth.processClientCredentialsResponse(as, oclient, new Response(BODY, { status: 200, headers: HEADERS })), N / 4);
ratio('parse, from a Response each', gParseResponse, oParse);
ratio('parse, grantline from a plain object', gParse, oParse);

const gBuild = measure('grantline  build client-credentials request', () => client.clientCredentialsRequest(['read']), N);
const oBuild = await measureAsync('oauth4webapi clientCredentialsGrantRequest (stub fetch)', () => oauth.clientCredentialsGrantRequest(as, oclient, auth, new URLSearchParams({ scope: 'read' }), ofetch), N / 4);
ratio('build (oauth4webapi also awaits a stub fetch)', gBuild, oBuild);

const gRound = await measureAsync('grantline  clientCredentials() round (stub fetch)', () => client.clientCredentials(['read']), N / 4);
const oRound = await measureAsync('oauth4webapi request + process round (stub fetch)', async () => oauth.processClientCredentialsResponse(as, oclient, await oauth.clientCredentialsGrantRequest(as, oclient, auth, new URLSearchParams({ scope: 'read' }), ofetch)), N / 4);
ratio('round', gRound, oRound);

const session = g.TokenSession.clientCredentials(client, ['read']);
await session.getAccessToken();
await measureAsync('grantline  TokenSession.getAccessToken() cached', () => session.getAccessToken(), N / 4);
void captured;
