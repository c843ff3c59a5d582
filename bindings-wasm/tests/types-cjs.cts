// Type-checked (never run) by tests/types.test.mjs: a CommonJS TypeScript file (`.cts`, whose
// imports compile to require()) uses the package's types, as `require('grantline')` resolves.
import { Client, Provider, TokenSet, type TokenSetView } from 'grantline';

export async function viaRequire(): Promise<TokenSetView> {
  const client = new Client(Provider.bindeo(), 'id', { clientSecret: 's' });
  const tokens: TokenSet = await client.clientCredentials([], { signal: AbortSignal.timeout(5000) });
  return tokens.toJSON();
}
