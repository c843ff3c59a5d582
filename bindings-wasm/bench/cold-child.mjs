// One cold start, run by bench/cold.mjs in a fresh process of Node, Deno or Bun: the package's
// import (as the runtime resolves `grantline` through its export conditions) and its first client
// (`Provider.custom` + `new Client`), or oauth4webapi's import and its first client objects, or
// nothing (the runtime's own start). Prints one JSON line: milliseconds by the runtime's
// performance.now() around the dynamic import, and since the process's time origin.
const which = (globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2))[0];
const ISSUER = 'https://as.example.com';
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;

const t0 = performance.now();
let t1 = t0;
let t2 = t0;
if (which === 'grantline') {
  const g = await import('grantline');
  t1 = performance.now();
  const provider = g.Provider.custom({ issuer: ISSUER, tokenEndpoint: TOKEN_ENDPOINT, grants: ['client_credentials'] });
  const client = new g.Client(provider, 'bench-client', { clientSecret: 'bench-secret' });
  if (typeof client.clientCredentials !== 'function') throw new Error('no client');
  t2 = performance.now();
} else if (which === 'oauth4webapi') {
  const oauth = await import('oauth4webapi');
  t1 = performance.now();
  const as = { issuer: ISSUER, token_endpoint: TOKEN_ENDPOINT };
  const client = { client_id: 'bench-client' };
  const auth = oauth.ClientSecretBasic('bench-secret');
  if (typeof auth !== 'function' || !as.issuer || !client.client_id) throw new Error('no client');
  t2 = performance.now();
} else if (which !== 'empty') {
  throw new Error(`cold-child: unknown case ${which}`);
}
console.log(JSON.stringify({ import: t1 - t0, first: t2 - t0, sinceOrigin: t2 }));
