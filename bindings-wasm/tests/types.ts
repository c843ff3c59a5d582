// Type-checked (never run) by tests/types.test.mjs with `tsc --strict`: the package's .d.ts
// describes the API as the README uses it.
import {
  Client, Provider, TokenSession, TokenSet, PendingAuthorization, CodeGrant,
  parseTokenResponse, parseDevicePollResponse, needsRenewal, bearerChallenge, parseWwwAuthenticate,
  redactRequest, OAuthError, GrantlineError, ReauthorizationRequiredError,
  type HttpRequest, type Introspection, type DevicePoll, type ProviderOptions,
} from 'grantline';

export async function usage(): Promise<string> {
  const options: ProviderOptions = { tokenEndpoint: 'https://as.example/token', grants: ['client_credentials'], bodyEncoding: 'json' };
  const provider: Provider = Provider.custom(options).with({ authMethod: 'client_secret_post' });
  const discovered: Provider = await Provider.discover('https://as.example/.well-known/oauth-authorization-server', { fetch });
  const client = new Client(Provider.bookable('api'), 'id', { clientSecret: 's', redirectUri: 'https://app/cb', fetch });
  const request: HttpRequest = client.clientCredentialsRequest(['read']);
  const printed: string = redactRequest(request);
  const tokens: TokenSet = await client.clientCredentials();
  const expires: number | undefined = tokens.expiresAt;
  const sync: TokenSet = parseTokenResponse({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }, 0);
  const fromResponse: Promise<TokenSet> = parseTokenResponse(new Response('{}'));
  const poll: DevicePoll = parseDevicePollResponse({ status: 400, body: '{"error":"slow_down"}' }, 5);
  if (poll.poll === 'slow_down') { const next: number = poll.interval; void next; }
  const info: Introspection = await client.introspect(tokens.accessToken, { hint: 'access_token' });
  await client.revoke(tokens.accessToken, 'access_token');
  const { url, pending } = client.authorizationUrl({ scopes: ['a'], pkce: 'S256', params: [['prompt', 'consent']] });
  const grant: CodeGrant = client.callback(PendingAuthorization.deserialize(pending.serialize()), url);
  const exchanged: TokenSet = await client.exchangeCode(grant);
  const session = TokenSession.fromTokens(client, exchanged, {
    onTokens: async (t: TokenSet, { refreshTokenRotated }) => { void t.serialize(); void refreshTokenRotated; },
  });
  const token: string = await session.getAccessToken();
  const response: Response = await session.fetch('https://api.example/x', { method: 'GET' });
  const renew: boolean = needsRenewal(response) || needsRenewal({ status: 401, headers: [['www-authenticate', 'Bearer']] });
  const challenge = bearerChallenge(response.headers);
  const scheme: string | undefined = parseWwwAuthenticate('Bearer realm="x"')[0]?.scheme;
  try {
    await client.password('u', 'p');
  } catch (e) {
    if (e instanceof OAuthError) { const code: string = e.code; const status: number | undefined = e.status; void code; void status; }
    if (e instanceof ReauthorizationRequiredError || e instanceof GrantlineError) { const kind: string = e.kind; void kind; }
  }
  void provider; void discovered; void printed; void expires; void sync; void fromResponse; void info; void renew; void challenge; void scheme;
  return token;
}
