// grantline in Node: client credentials over the global fetch, then a TokenSession that keeps
// the token fresh and calls an API with it.
//
//   GRANTLINE_ISSUER=https://as.example.com CLIENT_ID=... CLIENT_SECRET=... node examples/js/node.mjs
//
// GRANTLINE_ISSUER is the authorization server's issuer: `discover` finds its RFC 8414 metadata
// (or OpenID discovery document) at the well-known URLs, and refuses a document that names
// another issuer. API_URL, when set, is called with the token.
import { Client, TokenSession, GrantlineError, discover } from 'grantline';

const issuer = process.env.GRANTLINE_ISSUER ?? 'http://127.0.0.1:8080';
const scopes = (process.env.SCOPES ?? '').split(' ').filter(Boolean);

try {
  const provider = (await discover(issuer, { timeout: 10_000 })).with({ authMethod: process.env.AUTH_METHOD ?? 'client_secret_basic' });
  const client = new Client(provider, process.env.CLIENT_ID ?? 'test-client', {
    clientSecret: process.env.CLIENT_SECRET ?? 'test-secret',
  });

  const tokens = await client.clientCredentials(scopes, { signal: AbortSignal.timeout(10_000) });
  console.log(`token from ${provider.name}:`, tokens); // logs as data: the token is [redacted]

  const session = TokenSession.clientCredentials(client, scopes, {
    onTokens: (t) => console.log(`new token set, expires at ${t.expiresAt}`),
  });
  const many = await Promise.all(Array.from({ length: 10 }, () => session.getAccessToken()));
  console.log(`10 callers, ${new Set(many).size} token`);
  if (process.env.API_URL) {
    // fetch with the token attached (renewed once and retried on a 401 invalid_token).
    const response = await session.fetch(process.env.API_URL, { signal: AbortSignal.timeout(10_000) });
    console.log(`API answered ${response.status}`);
  }
} catch (e) {
  if (!(e instanceof GrantlineError)) throw e;
  console.error(`${e.name} (${e.kind}${e.code ? `, ${e.code}` : ''}): ${e.message}`);
  process.exitCode = 1;
}
