// Type-checked (never run) by tests/types.test.mjs with `tsc --strict`: the package's .d.ts
// describes the API as the README uses it.
import {
  Client, Provider, TokenSession, TokenSet, PendingAuthorization, CodeGrant, Discovery, SessionState,
  discover, parseTokenResponse, parseDevicePollResponse, needsRenewal, bearerChallenge, parseWwwAuthenticate,
  redactRequest, redactUrl, OAuthError, GrantlineError, ReauthorizationRequiredError, ConfigurationError,
  type HttpRequest, type Introspection, type DevicePoll, type ProviderOptions, type CallOptions,
  type Next, type Completion, type SessionGrant, type TokenSetView, type SessionView, type ClientView,
  SigningKey, JwkSet, JwksCache, IdTokenClaims, UserInfo, VerifiedJws, TokenValidationError, parseUserinfoResponse,
  type JwsAlgorithm, type JwksStep, type TokenExchangeOptions, type IdTokenClaimsView,
  FleetConfig, FleetState, StoreEntry, StoreError, fleetRedisScripts, type FleetStore, type StoreOp, type FleetNext,
  type FleetAction, type FleetStats, type FleetView, type FleetConfigOptions, type StoreReply, type AcquireResult,
  type FleetConfigView, type TokensInfo,
} from 'grantline';
import { redisStore, type RedisStore } from 'grantline/redis';
import { createClient } from 'redis';

/** A FleetStore of one's own: the five operations, typed by the interface. */
export class MapStore implements FleetStore {
  entries = new Map<string, string>();
  async read(op: { key: string }): Promise<string | null> { return this.entries.get(op.key) ?? null; }
  async acquire(op: { key: string; ttlMs: number }, { signal }: { signal?: AbortSignal }): Promise<AcquireResult> {
    void signal;
    return { acquired: true, leaseTtlMs: op.ttlMs, entry: this.entries.get(op.key) ?? null };
  }
  async commit(op: { key: string; entry: string; expectedVersion: number; version: number }): Promise<boolean> {
    this.entries.set(op.key, op.entry);
    return op.version === op.expectedVersion + 1;
  }
  async release(): Promise<void> {}
  async watch(op: { timeoutMs: number }): Promise<void> { await new Promise((r) => setTimeout(r, op.timeoutMs)); }
}

export async function fleetUsage(): Promise<string> {
  const redis = createClient({ url: 'redis://127.0.0.1:6379', disableOfflineQueue: true });
  await redis.connect();
  const store: RedisStore = redisStore(redis, { watch: 'pubsub' });
  const options: FleetConfigOptions = { name: 'billing', keys: [{ kid: 'k1', key: new Uint8Array(32) }], leaseTtlMs: 20_000 };
  const config = new FleetConfig(options);
  const plain = new FleetConfig({ name: 'dev', plaintext: true, owner: 'me', renewAloneWhenStoreDown: true });
  const kids: string[] | undefined = config.kids;
  const shown: FleetConfigView = plain.toJSON();
  const client = new Client(Provider.bindeo(), 'id', { clientSecret: 's' });
  const session = TokenSession.clientCredentials(client, [], {
    store, fleet: config, storeTimeout: 1000,
    onTokens: (t: TokenSet, info: TokensInfo) => { void t; void info.source; void info.version; },
  });
  const other = TokenSession.password(client, 'u', 'p', [], { store: new MapStore(), fleet: options });
  const token: string = await session.getAccessToken();
  await session.settled();
  const view: FleetView | undefined = session.fleet;
  const stats: FleetStats | undefined = view?.stats;
  try {
    await other.getAccessToken();
  } catch (e) {
    if (e instanceof StoreError) { const kind: string = e.kind; void kind; }
  }
  // The machine sans-IO.
  const state = new FleetState(client, { type: 'client_credentials' }, config, { skew: 30 });
  const next: FleetNext = state.next(Date.now());
  if (next.next === 'perform') {
    let action: FleetAction = next.action;
    if (action.action === 'store' && action.op === 'read') {
      const op: StoreOp = action;
      const reply: StoreReply = { entry: await store.read(action, {}) ?? null };
      action = state.storeDone(next.id, reply, Date.now());
      void op;
    } else if (action.action === 'send') {
      action = state.fail(next.id, 'offline');
    }
    if (action.action === 'done' && action.completion.renewed) state.delivered(next.id);
  }
  const entry = new StoreEntry(1, TokenSet.deserialize('{}'), 1_700_000_000);
  const sealed: string = entry.seal(config);
  const back: StoreEntry = StoreEntry.open(sealed, { keys: [{ kid: 'k1', key: new Uint8Array(32) }] });
  const scripts: string = fleetRedisScripts().acquire;
  await store.close();
  void kids; void shown; void stats; void back.version; void back.writtenAt; void back.tokens; void scripts; void state.version; void state.stats;
  return token;
}

export async function oidcUsage(): Promise<string | undefined> {
  const key: SigningKey = SigningKey.fromJwk('{}').withKid('k1').withAlgorithm('ES256');
  const alg: JwsAlgorithm = key.algorithm;
  const jwt: string = key.sign({ sub: 'x' }, { typ: 'JWT' });
  const provider = Provider.custom({ issuer: 'https://op.example', jwksUri: 'https://op.example/jwks', idTokenAlgorithms: ['RS256'], assertionAudience: 'token_endpoint' });
  const algs: JwsAlgorithm[] = Provider.google().idTokenAlgorithms;
  const entra: Provider = Provider.entra('common');
  const okta: Provider = Provider.okta('dev.okta.com', 'default');
  const client = new Client(provider, 'app', { signingKey: key, authMethod: 'private_key_jwt', jwks: { minRefetch: 30 } });
  const { pending } = client.authorizationUrl({ scopes: ['openid'], nonce: 'n', maxAge: 300 });
  const nonce: string | undefined = pending.nonce;
  const tokens: TokenSet = await client.exchangeCode(new CodeGrant('c'), { params: [['resource', 'r']], timeout: 5000 });
  const claims: IdTokenClaims = await client.validateIdToken(tokens, pending, { leeway: 30, signal: AbortSignal.timeout(5000) });
  const view: IdTokenClaimsView = claims.toJSON();
  const refreshed: IdTokenClaims | undefined = await client.validateRefreshedIdToken(tokens, claims);
  const info: UserInfo = await client.userinfo(tokens, claims, { timeout: 5000 });
  const logout: string = client.endSessionUrl({ idTokenHint: tokens.idToken, postLogoutRedirectUri: 'https://app.example/' });
  const exchange: TokenExchangeOptions = { subjectToken: 's', subjectTokenType: 't', resource: ['a', 'b'], audience: ['x'] };
  const exchanged: TokenSet = await client.tokenExchange(exchange, { params: [['k', 'v']] });
  const issued: string | undefined = exchanged.issuedTokenType;
  const generic: HttpRequest = client.grantRequest('urn:x', { scopes: ['a'], params: [['k', 'v']], now: 1 });
  const bearer: TokenSet = await client.jwtBearer(jwt, { scopes: ['a'] });
  const cache = new JwksCache('https://op.example/jwks', { minRefetch: 60 });
  const step: JwksStep = cache.verify(jwt, ['ES256'], 1);
  const verified: VerifiedJws | undefined = step.next === 'verified' ? step.jws : undefined;
  const set: JwkSet = JwkSet.fromJson('{"keys":[]}');
  const kid: string | null = set.keys[0]?.kid ?? null;
  const answer = parseUserinfoResponse({ status: 200, body: '{}' }, 'alice');
  const check = client.idTokenCheck(pending, { algorithms: ['EdDSA'] });
  try {
    check.validate(set.verify(jwt, check.algorithms));
  } catch (e) {
    if (e instanceof TokenValidationError) { const claim: string | undefined = e.claim; const problem: string | undefined = e.problem; void claim; void problem; }
  }
  void alg; void algs; void entra; void okta; void nonce; void view; void refreshed; void info; void logout; void issued; void generic; void bearer;
  void verified; void kid; void answer;
  return refreshed?.sub;
}

export async function usage(): Promise<string> {
  const options: ProviderOptions = { tokenEndpoint: 'https://as.example/token', grants: ['client_credentials'], bodyEncoding: 'json' };
  const provider: Provider = Provider.custom(options).with({ authMethod: 'client_secret_post' });
  const discovered: Provider = await Provider.discover('https://as.example/.well-known/oauth-authorization-server', { fetch });
  const byIssuer: Provider = await discover('https://as.example', { fetch, timeout: 5000, signal: AbortSignal.timeout(10000) });
  const method: string | undefined = byIssuer.authMethod;
  const offered: string[] | undefined = byIssuer.authMethodsOffered;
  const d = new Discovery('https://as.example/tenant');
  const wellKnown: string[] = d.urls;
  const first: HttpRequest = d.request();
  const maybe: Provider | undefined = d.receive({ status: 404, body: '' });
  const shownUrl: string = redactUrl(first.url) + d.issuer;
  const client = new Client(Provider.bookable('api'), 'id', { clientSecret: 's', redirectUri: 'https://app/cb', fetch, timeout: 10_000 });
  const clientMethod: string | undefined = client.authMethod;
  const perCall: CallOptions = { timeout: 2000, signal: new AbortController().signal };
  const quick: TokenSet = await client.clientCredentials(['read'], perCall);
  const header: string = quick.authorizationHeader();
  const bearer: boolean = quick.isBearer && !quick.expiredOnArrival;
  const forProvider: TokenSet = byIssuer.parseTokenResponse({ status: 200, body: '{}' });
  const grantSpec: SessionGrant = { type: 'password', username: 'u', password: 'p' };
  const state = new SessionState(client, grantSpec, { skew: 30 });
  const next: Next = state.next(1000);
  if (next.next === 'send') {
    const done: Completion = state.receive(next.id, { status: 200, body: '{}' }, 1000);
    if (done.renewed) { void done.renewed.tokens.serialize(); state.delivered(next.id); }
    if (done.error instanceof GrantlineError) { const kind: string = done.error.kind; void kind; }
    const after: Next = state.waited(next.id, 1000);
    void after;
  } else if (next.next === 'ready') {
    const t: string = next.token; void t;
  }
  const until: number | undefined = state.readyUntil();
  const forgotten: boolean = state.abandon(1);
  const stateView: SessionView = state.toJSON();
  const request: HttpRequest = client.clientCredentialsRequest(['read']);
  const printed: string = redactRequest(request);
  const tokens: TokenSet = await client.clientCredentials();
  const expires: number | undefined = tokens.expiresAt;
  const view: TokenSetView = tokens.toJSON();
  const hasRefresh: boolean = view.refreshToken !== null;
  const clientView: ClientView = client.toJSON();
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
    onError: (e) => { if (e instanceof ConfigurationError) void e.tokenType; },
  });
  const token: string = await session.getAccessToken();
  const bounded: string = await session.getAccessToken({ timeout: 100 });
  const failures: number = session.failures;
  const retryAt: number | undefined = session.retryAt;
  const response: Response = await session.fetch('https://api.example/x', { method: 'GET', signal: AbortSignal.timeout(5000) }, { timeout: 5000 });
  const renew: boolean = needsRenewal(response) || needsRenewal({ status: 401, headers: [['www-authenticate', 'Bearer']] });
  const challenge = bearerChallenge(response.headers);
  const scheme: string | undefined = parseWwwAuthenticate('Bearer realm="x"')[0]?.scheme;
  try {
    await client.password('u', 'p');
  } catch (e) {
    if (e instanceof OAuthError) { const code: string = e.code; const status: number | undefined = e.status; void code; void status; }
    if (e instanceof ReauthorizationRequiredError || e instanceof GrantlineError) { const kind: string = e.kind; void kind; }
  }
  void method; void offered; void wellKnown; void maybe; void shownUrl; void clientMethod; void header; void bearer;
  void forProvider; void until; void bounded; void failures; void retryAt; void forgotten; void stateView; void hasRefresh; void clientView;
  void provider; void discovered; void printed; void expires; void sync; void fromResponse; void info; void renew; void challenge; void scheme;
  return token;
}
