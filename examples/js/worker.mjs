// grantline in a Cloudflare Worker (or any runtime with module workers: Deno Deploy, Bun):
// imports nothing but the package and uses only Web APIs. The package's `workerd` export
// condition loads the WebAssembly as a module, as Workers require.
//
// wrangler.toml: main = "worker.mjs"; [vars] TOKEN_URL, CLIENT_ID, SCOPES, API_URL; secret CLIENT_SECRET.
// The session lives as long as the isolate: concurrent requests share one token renewal.
import { Client, Provider, TokenSession, GrantlineError } from 'grantline';

let session;

function sessionFor(env) {
  if (!session) {
    const provider = Provider.custom({ tokenEndpoint: env.TOKEN_URL, grants: ['client_credentials'] });
    const client = new Client(provider, env.CLIENT_ID, { clientSecret: env.CLIENT_SECRET });
    session = TokenSession.clientCredentials(client, (env.SCOPES ?? '').split(' ').filter(Boolean));
  }
  return session;
}

export default {
  async fetch(request, env) {
    try {
      const upstream = await sessionFor(env).fetch(env.API_URL, { headers: { accept: 'application/json' } });
      return new Response(upstream.body, { status: upstream.status, headers: { 'content-type': 'application/json' } });
    } catch (e) {
      if (!(e instanceof GrantlineError)) throw e;
      return Response.json({ error: e.name, kind: e.kind, code: e.code }, { status: 502 });
    }
  },
};
