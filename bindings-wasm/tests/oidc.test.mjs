// OpenID Connect, JOSE, JWT client authentication and extension grants through the package's
// API, over a stand-in provider (an injected fetch that signs ID tokens with a SigningKey and
// serves its JWK Set): the JWKS cache of a client (one fetch, one refetch on key rotation,
// none for a made-up kid), userinfo (JSON and signed), the refresh rules, logout URLs,
// `{ signal, timeout }` on the new network calls, and hostile inputs: bad keys, a 10 MB
// token, wrong types, secrets never shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as g from 'grantline';

const ISSUER = 'https://op.example';
// RFC 8037's Ed25519 key and a second one (rotation).
const ED1 = { kty: 'OKP', crv: 'Ed25519', kid: 'ed1', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const ED2_D = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
// RFC 7515 A.3's P-256 key: the client's private_key_jwt key.
const EC = { kty: 'EC', crv: 'P-256', kid: 'client-ec', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };

const b64url = (s) => Buffer.from(s).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A stand-in OpenID provider: `op.fetch` answers token, JWKS and userinfo requests. */
function makeOp() {
  const op = {
    keys: [g.SigningKey.fromJwk(ED1)],
    jwksFetches: 0,
    tokenBodies: [],
    userinfo: { sub: 'alice', email: 'alice@example.com' },
    signedUserinfo: false,
    nonce: undefined,
    sub: 'alice',
  };
  op.sign = (claims) => op.keys[0].sign({ iss: ISSUER, sub: op.sub, aud: 'app', iat: now(), exp: now() + 600, ...claims }, { typ: 'JWT' });
  const json = (status, body, type = 'application/json') => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': type } });
  op.fetch = async (url, init = {}) => {
    const u = new URL(url);
    if (u.pathname === '/jwks') {
      op.jwksFetches += 1;
      return json(200, { keys: op.keys.map((k) => JSON.parse(k.publicJwk())) });
    }
    if (u.pathname === '/userinfo') {
      if (init.headers.authorization !== 'Bearer AT-1') return new Response('', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
      if (op.signedUserinfo) return json(200, op.keys[0].sign({ ...op.userinfo, iss: ISSUER, aud: 'app' }), 'application/jwt');
      return json(200, op.userinfo);
    }
    if (u.pathname === '/token') {
      const body = new URLSearchParams(String(init.body));
      op.tokenBodies.push(body);
      const grant = body.get('grant_type');
      if (grant === 'urn:ietf:params:oauth:grant-type:token-exchange') {
        return json(200, { access_token: 'EXCHANGED', token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:jwt', exchanged: { resource: body.getAll('resource'), audience: body.getAll('audience') } });
      }
      const idToken = grant === 'refresh_token' ? op.sign({}) : op.sign({ nonce: op.nonce });
      return json(200, { access_token: 'AT-1', token_type: 'Bearer', expires_in: 3600, refresh_token: 'RT-1', id_token: idToken });
    }
    return json(404, {});
  };
  return op;
}

const provider = g.Provider.custom({
  name: 'op', issuer: ISSUER, authorizationEndpoint: `${ISSUER}/authorize`, tokenEndpoint: `${ISSUER}/token`,
  jwksUri: `${ISSUER}/jwks`, userinfoEndpoint: `${ISSUER}/userinfo`, endSessionEndpoint: `${ISSUER}/logout`,
  idTokenAlgorithms: ['EdDSA'], grants: ['authorization_code', 'refresh_token', 'client_credentials'],
});

/** A login: authorization URL, callback, code exchange. */
async function login(client, op) {
  const { url, pending } = client.authorizationUrl({ scopes: ['openid', 'email'] });
  const sent = new URL(url).searchParams;
  assert.equal(sent.get('nonce'), pending.nonce);
  op.nonce = pending.nonce;
  const grant = client.callback(pending, `https://app.example/cb?code=C0DE&state=${sent.get('state')}`);
  return { tokens: await client.exchangeCode(grant), pending };
}

test('a login: nonce in the URL and the pending record, ID token validated with one JWKS fetch, userinfo, logout URL', async () => {
  const op = makeOp();
  const client = new g.Client(provider, 'app', { redirectUri: 'https://app.example/cb', fetch: op.fetch });
  const { tokens, pending } = await login(client, op);
  assert.match(pending.nonce, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(pending.toJSON().nonce, '[redacted]');
  const claims = await client.validateIdToken(tokens, pending);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.nonce, pending.nonce);
  assert.equal(claims.algorithm, 'EdDSA');
  assert.equal(op.jwksFetches, 1);
  // The same client validates again from its cache.
  await client.validateIdToken(tokens, pending);
  assert.equal(op.jwksFetches, 1);

  const info = await client.userinfo(tokens, claims);
  assert.equal(info.sub, 'alice');
  assert.equal(info.claims.email, 'alice@example.com');
  assert.equal(info.signed, false);
  assert.deepEqual(info.toJSON(), { sub: 'alice', signed: false, claimNames: ['email', 'sub'] });

  const logout = new URL(client.endSessionUrl({ idTokenHint: tokens.idToken, postLogoutRedirectUri: 'https://app.example/bye', state: 'xyz' }));
  assert.equal(logout.origin + logout.pathname, `${ISSUER}/logout`);
  assert.deepEqual([...logout.searchParams.keys()], ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state']);
  assert.equal(logout.searchParams.get('client_id'), 'app');
});

test('key rotation: a new kid refetches the JWK Set exactly once; a made-up kid is refused without a fetch', async () => {
  const op = makeOp();
  const client = new g.Client(provider, 'app', { redirectUri: 'https://app.example/cb', fetch: op.fetch, jwks: { minRefetch: 1 } });
  assert.throws(() => new g.Client(provider, 'app', { jwks: { minRefetch: 0 } }), (e) => e instanceof g.ConfigurationError);
  let { tokens, pending } = await login(client, op);
  await client.validateIdToken(tokens, pending);
  assert.equal(op.jwksFetches, 1);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // past minRefetch
  op.keys = [g.SigningKey.fromJwk(ED1).withKid('ed2')];
  ({ tokens, pending } = await login(client, op));
  const claims = await client.validateIdToken(tokens, pending);
  assert.equal(claims.sub, 'alice');
  assert.equal(op.jwksFetches, 2);
  // Within the refetch interval, an unknown kid is refused: no third fetch.
  op.keys = [g.SigningKey.fromJwk(ED1).withKid('made-up')];
  ({ tokens, pending } = await login(client, op));
  await assert.rejects(client.validateIdToken(tokens, pending), (e) => e instanceof g.TokenValidationError && e.kind === 'jws' && e.problem === 'no_matching_key');
  assert.equal(op.jwksFetches, 2);
});

test('claims are checked: another nonce, another sub on userinfo, a refreshed ID token for another user', async () => {
  const op = makeOp();
  const client = new g.Client(provider, 'app', { redirectUri: 'https://app.example/cb', fetch: op.fetch });
  const { tokens, pending } = await login(client, op);
  const claims = await client.validateIdToken(tokens, pending);
  // A refresh: the new ID token is checked against the first (OIDC Core §12.2).
  const refreshed = await client.refresh(tokens.refreshToken);
  const again = await client.validateRefreshedIdToken(refreshed, claims);
  assert.equal(again.sub, 'alice');
  op.sub = 'mallory';
  const other = await client.refresh(tokens.refreshToken);
  await assert.rejects(client.validateRefreshedIdToken(other, claims), (e) => e instanceof g.TokenValidationError && e.claim === 'sub');
  // A token set without an ID token: nothing to check on refresh, an error on login.
  const bare = new g.TokenSet({ accessToken: 'AT-1' });
  assert.equal(await client.validateRefreshedIdToken(bare, claims), undefined);
  await assert.rejects(client.validateIdToken(bare, pending), (e) => e instanceof g.TokenValidationError && e.kind === 'id_token' && e.claim === 'id_token');
  // The claims survive storage (a web app keeps them in its session) for the refresh check.
  const restored = g.IdTokenClaims.deserialize(claims.serialize());
  assert.equal(restored.sub, 'alice');
  await assert.rejects(client.validateRefreshedIdToken(other, restored), (e) => e instanceof g.TokenValidationError && e.claim === 'sub');
  assert.throws(() => g.IdTokenClaims.deserialize('{"alg":"EdDSA","claims":"SECRETVALUE"}'), (e) => e instanceof g.ConfigurationError && !String(e).includes('SECRETVALUE'));
  // The nonce of another authorization.
  const { pending: another } = await login(client, op);
  op.sub = 'alice';
  await assert.rejects(client.validateIdToken(tokens, another), (e) => e.kind === 'id_token' && e.claim === 'nonce' && !e.message.includes(pending.nonce));
  // Userinfo about someone else.
  op.userinfo = { sub: 'bob' };
  await assert.rejects(client.userinfo('AT-1', claims), (e) => e.kind === 'id_token' && e.claim === 'sub');
  await assert.rejects(client.userinfo('wrong', 'alice'), (e) => e instanceof g.OAuthError && e.code === 'invalid_token');
});

test('a signed userinfo answer is verified through the client JWKS cache', async () => {
  const op = makeOp();
  op.signedUserinfo = true;
  const client = new g.Client(provider, 'app', { fetch: op.fetch });
  const info = await client.userinfo('AT-1', 'alice');
  assert.equal(info.signed, true);
  assert.equal(info.claims.email, 'alice@example.com');
  assert.equal(op.jwksFetches, 1);
  // Sans-IO, the same answer: the compact JWS to verify.
  const answer = g.parseUserinfoResponse({ status: 200, headers: { 'content-type': 'application/jwt' }, body: op.keys[0].sign({ sub: 'alice' }) }, 'alice');
  assert.equal(typeof answer.signed, 'string');
});

test('{ signal, timeout } on validateIdToken and userinfo: an aborted signal is a TransportError, unknown options are refused', async () => {
  const op = makeOp();
  const client = new g.Client(provider, 'app', { redirectUri: 'https://app.example/cb', fetch: op.fetch });
  const { tokens, pending } = await login(client, op);
  await assert.rejects(client.validateIdToken(tokens, pending, { signal: AbortSignal.abort() }), (e) => e instanceof g.TransportError);
  await assert.rejects(client.userinfo(tokens, 'alice', { signal: AbortSignal.abort() }), (e) => e instanceof g.TransportError);
  const slow = new g.Client(provider, 'app', { fetch: () => new Promise(() => {}) });
  await assert.rejects(slow.userinfo('AT-1', 'alice', { timeout: 50 }), (e) => e instanceof g.TransportError && /deadline/.test(e.message));
  await assert.rejects(client.validateIdToken(tokens, pending, { leway: 5 }), (e) => e instanceof g.ConfigurationError && /leway/.test(e.message));
  await assert.rejects(client.validateIdToken(tokens, pending, { accessToken: 'x' }), (e) => e instanceof g.ConfigurationError);
});

test('private_key_jwt: every token request carries a fresh assertion signed by the client key', async () => {
  const op = makeOp();
  const key = g.SigningKey.fromJwk(EC);
  const client = new g.Client(provider, 'app', { signingKey: key, fetch: op.fetch });
  assert.equal(client.authMethod, 'private_key_jwt');
  await client.clientCredentials(['a']);
  await client.clientCredentials(['a'], { params: [['resource', 'urn:example:jwt-api']] });
  const [first, second] = op.tokenBodies;
  assert.equal(first.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  assert.deepEqual(second.getAll('resource'), ['urn:example:jwt-api']);
  const keys = g.JwkSet.fromJwk(key.publicJwk());
  const a = keys.verify(first.get('client_assertion'), ['ES256']);
  const b = keys.verify(second.get('client_assertion'), ['ES256']);
  assert.deepEqual(a.header, { alg: 'ES256', typ: 'JWT', kid: 'client-ec' });
  const ca = a.claims();
  assert.equal(ca.iss, 'app');
  assert.equal(ca.sub, 'app');
  assert.equal(ca.aud, ISSUER);
  assert.equal(ca.exp - ca.iat, 60);
  assert.notEqual(ca.jti, b.claims().jti);
  // The key object given to the client stays usable, and the client prints without it.
  assert.equal(key.kid, 'client-ec');
  assert.doesNotMatch(JSON.stringify(client) + inspect(client) + String(key) + inspect(key), new RegExp(EC.d));
});

test('token exchange with two resources and two audiences; a generic grant; a JWT bearer assertion', async () => {
  const op = makeOp();
  const client = new g.Client(provider, 'app', { clientSecret: 's', fetch: op.fetch });
  const exchanged = await client.tokenExchange({
    subjectToken: 'SUBJECT', subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    resource: ['https://a.example', 'https://b.example'], audience: ['a', 'b'],
  });
  assert.equal(exchanged.issuedTokenType, 'urn:ietf:params:oauth:token-type:jwt');
  assert.deepEqual(exchanged.extra.exchanged, { resource: ['https://a.example', 'https://b.example'], audience: ['a', 'b'] });
  assert.equal(exchanged.toJSON().issuedTokenType, 'urn:ietf:params:oauth:token-type:jwt');
  await client.grant('urn:example:grant', { scopes: ['x'], params: [['k', '1'], ['k', '2']] });
  const body = op.tokenBodies.at(-1);
  assert.equal(body.get('grant_type'), 'urn:example:grant');
  assert.deepEqual(body.getAll('k'), ['1', '2']);
  const assertion = g.SigningKey.fromJwk(EC).sign({ iss: 'app', sub: 'alice', aud: ISSUER, exp: now() + 60 });
  const r = client.jwtBearerRequest(assertion, { scopes: ['read'] });
  assert.match(r.body, /^grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=/);
  assert.doesNotMatch(String(r), new RegExp(assertion.split('.')[2]));
  // Names grantline sets itself are refused.
  assert.throws(() => client.grantRequest('urn:x', { params: [['client_assertion', 'x']] }), (e) => e instanceof g.ConfigurationError && e.kind === 'invalid_input');
  await assert.rejects(client.tokenExchange({ subjectTokenType: 'x' }), (e) => e instanceof g.ConfigurationError);
});

test('hostile inputs: bad keys, a 10 MB token, wrong types, never a secret in an error', () => {
  const badKeys = [
    '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}', // no d
    `{"kty":"OKP","crv":"Ed25519","d":"${ED1.d}","x":"AAAA"}`, // public part does not match
    '{"kty":"RSA","d":"x"}', 'not json', '{}', '[]',
  ];
  for (const jwk of badKeys) {
    assert.throws(() => g.SigningKey.fromJwk(jwk), (e) => e instanceof g.ConfigurationError && e.kind === 'invalid_key' && !e.message.includes(ED1.d), jwk);
  }
  for (const wrong of [42, null, undefined, true, Symbol.iterator === 1]) {
    assert.throws(() => g.SigningKey.fromJwk(wrong), (e) => e instanceof g.ConfigurationError);
  }
  assert.throws(() => g.SigningKey.fromPem('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----'), (e) => e.kind === 'invalid_key');
  assert.throws(() => g.SigningKey.hmac('short'), (e) => e.kind === 'invalid_key');
  assert.throws(() => g.SigningKey.fromJwk(ED1).withAlgorithm('RS256'), (e) => e.kind === 'invalid_key');
  assert.throws(() => g.SigningKey.fromJwk(ED1).withAlgorithm('none'), (e) => e.kind === 'invalid_input');
  assert.throws(() => g.SigningKey.fromJwk(ED1).sign([1, 2]), (e) => e.kind === 'invalid_input');
  assert.throws(() => g.SigningKey.fromJwk(ED1).sign({}, { alg: 'none' }), (e) => e.kind === 'invalid_input');

  const keys = g.JwkSet.fromJson(JSON.stringify({ keys: [JSON.parse(g.SigningKey.fromJwk(ED1).publicJwk()), { kty: 'XYZ' }] }));
  assert.equal(keys.skipped, 1);
  const huge = `${b64url('{"alg":"EdDSA"}')}.${'A'.repeat(10 * 1024 * 1024)}.sig`;
  assert.throws(() => keys.verify(huge, ['EdDSA']), (e) => e instanceof g.TokenValidationError && e.problem === 'too_large' && e.message.length < 200);
  const none = `${b64url('{"alg":"none"}')}.${b64url('{"sub":"x"}')}.`;
  assert.throws(() => keys.verify(none, ['EdDSA']), (e) => e.problem === 'alg_none');
  assert.throws(() => keys.verify('a.b.c', 'EdDSA'), (e) => e.kind === 'jws' && e.problem === 'malformed');
  assert.throws(() => keys.verify('a.b.c', [1]), (e) => e instanceof g.ConfigurationError);
  assert.throws(() => g.JwkSet.fromJson('{"keys": 5}'), (e) => e.kind === 'invalid_key');
  assert.throws(() => g.JwkSet.fromJson(`{"keys":[${'{},'.repeat(200)}{}]}`), (e) => e.kind === 'invalid_key');
  // Something that is not a SigningKey where one is expected.
  assert.throws(() => new g.Client(provider, 'app', { signingKey: ED1 }), (e) => e instanceof g.ConfigurationError && /signingKey/.test(e.message));
  assert.throws(() => new g.Client(provider, 'app', { signingKey: { __copy: () => ED1 } }), (e) => e instanceof g.ConfigurationError);
  assert.throws(() => new g.JwksCache(`${ISSUER}/jwks`, { keys: 'nope', fetchedAt: 1 }), (e) => e.kind === 'invalid_key');
  assert.throws(() => new g.JwksCache('http://op.example/jwks'), (e) => e.kind === 'insecure_endpoint');
  assert.throws(() => new g.JwksCache(`${ISSUER}/jwks`, { keys }), (e) => e.kind === 'invalid_input');
  // Presets with hostile parameters.
  assert.throws(() => g.Provider.entra('a/b?c'), (e) => e instanceof g.GrantlineError);
  assert.throws(() => g.Provider.keycloak('http://sso.example', 'r'), (e) => e.kind === 'insecure_endpoint');
  assert.equal(g.Provider.preset('github').name, g.Provider.github().name);
  assert.equal(g.Provider.okta('dev-1.okta.com', 'default').issuer, 'https://dev-1.okta.com/oauth2/default');
});

test('sans-IO: JwksCache drives a rotation step by step; IdTokenCheck validates', () => {
  const t0 = 1_700_000_000;
  const key = g.SigningKey.fromJwk(ED1);
  const token = key.sign({ iss: ISSUER, sub: 'alice', aud: 'app', iat: t0, exp: t0 + 600, nonce: 'n-1' });
  const cache = new g.JwksCache(`${ISSUER}/jwks`, { minRefetch: 30 });
  assert.deepEqual(cache.verify(token, ['EdDSA'], t0), { next: 'fetch' });
  assert.equal(cache.request().url, `${ISSUER}/jwks`);
  cache.receive({ status: 200, body: JSON.stringify({ keys: [JSON.parse(key.publicJwk())] }) }, t0);
  const step = cache.verify(token, ['EdDSA'], t0);
  assert.equal(step.next, 'verified');
  const client = new g.Client(provider, 'app');
  const pending = g.PendingAuthorization.deserialize(JSON.stringify({ state: 's', issuer: ISSUER, nonce: 'n-1' }));
  const check = client.idTokenCheck(pending, { leeway: 0 });
  assert.deepEqual(check.algorithms, ['EdDSA']);
  assert.equal(check.toJSON().nonce, '[redacted]');
  const claims = check.validate(step.jws, t0 + 1);
  assert.equal(claims.sub, 'alice');
  assert.throws(() => check.validate(step.jws, t0 + 600), (e) => e.claim === 'exp');
  assert.doesNotMatch(JSON.stringify(claims) + inspect(claims) + String(claims), /n-1/);
});
