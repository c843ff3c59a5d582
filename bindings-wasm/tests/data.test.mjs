// The package's classes behave as data without leaking: JSON.stringify (what structured loggers
// such as pino and winston write), console.log / util.inspect and toString show a redacted view;
// serialize() stays the way to persist; structuredClone and postMessage (and a spread copy) fail
// with a DataCloneError that says what to do instead, rather than silently copying a pointer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import * as g from 'grantline';

// Secrets that must never show, and one instance of every class, holding them.
const SECRETS = ['AT-s3cret', 'RT-s3cret', 'ID-s3cret', 'X-s3cret', 'CS-s3cret', 'CODE-s3cret', 'VERIFIER-s3cret', 'DEVICE-s3cret', 'PW-s3cret',
  // Key material, a nonce and personal data in claims.
  'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', 'NONCE-s3cret', 'PII-s3cret@example.com'];
const provider = g.Provider.custom({
  name: 'as', issuer: 'https://as.example', authorizationEndpoint: 'https://as.example/authorize',
  tokenEndpoint: 'https://as.example/token', deviceAuthorizationEndpoint: 'https://as.example/device',
  grants: ['authorization_code', 'client_credentials', 'password', 'refresh_token', 'device_code'],
  extraTokenParams: [['audience', 'api'], ['client_assertion', 'X-s3cret']],
});
const client = new g.Client(provider, 'app', { clientSecret: 'CS-s3cret', redirectUri: 'https://app.example/cb', timeout: 5000 });
const body = { access_token: 'AT-s3cret', token_type: 'bearer', expires_in: 3600, refresh_token: 'RT-s3cret', id_token: 'ID-s3cret', scope: 'read write', vendor_key: 'X-s3cret' };
const tokens = g.parseTokenResponse({ status: 200, body: JSON.stringify(body) }, 1_700_000_000);
const authorization = client.authorizationUrl({ scopes: ['read'] });
const device = g.parseDeviceAuthorizationResponse({ status: 200, body: JSON.stringify({ device_code: 'DEVICE-s3cret', user_code: 'WDJB-MJHT', verification_uri: 'https://as.example/device', interval: 5, expires_in: 600 }) }, 1_700_000_000);
const state = new g.SessionState(client, { type: 'password', username: 'alice', password: 'PW-s3cret' }, { tokens });
const signingKey = g.SigningKey.fromJwk({ kty: 'OKP', crv: 'Ed25519', kid: 'k1', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
const jwkSet = g.JwkSet.fromJwk(signingKey.publicJwk());
const idToken = signingKey.sign({ iss: 'https://as.example', sub: 'alice', aud: 'app', iat: 1_700_000_000, exp: 1_700_000_600, nonce: 'NONCE-s3cret', email: 'PII-s3cret@example.com' });
const verified = jwkSet.verify(idToken, ['EdDSA']);
const oidcPending = g.PendingAuthorization.deserialize(JSON.stringify({ state: 's', issuer: 'https://as.example', nonce: 'NONCE-s3cret' }));
const idTokenCheck = client.idTokenCheck(oidcPending, { algorithms: ['EdDSA'] });
const jwksCache = new g.JwksCache('https://as.example/jwks', { keys: jwkSet, fetchedAt: 1_700_000_000 });
// A shared session's entry key (issue 12): its bytes, hex and base64 must never show either.
const entryKey = new TextEncoder().encode('KEY-s3cret-KEY-s3cret-KEY-s3cre!');
SECRETS.push(Buffer.from(entryKey).toString('hex'), Buffer.from(entryKey).toString('base64'), Buffer.from(entryKey).toString('base64url'));
const fleetConfig = new g.FleetConfig({ name: 'billing', keys: [{ kid: 'k1', key: entryKey }], owner: 'proc-1' });
const userinfo = g.parseUserinfoResponse({ status: 200, body: '{"sub":"alice","email":"PII-s3cret@example.com"}' }, 'alice').userinfo;
const instances = {
  SigningKey: signingKey,
  JwkSet: jwkSet,
  VerifiedJws: verified,
  JwksCache: jwksCache,
  IdTokenCheck: idTokenCheck,
  IdTokenClaims: idTokenCheck.validate(verified, 1_700_000_010),
  UserInfo: userinfo,
  TokenSet: tokens,
  PendingAuthorization: authorization.pending,
  Authorization: authorization,
  CodeGrant: new g.CodeGrant('CODE-s3cret', 'VERIFIER-s3cret', 'https://app.example/cb'),
  DeviceAuthorization: device,
  Client: client,
  Provider: provider,
  Discovery: new g.Discovery('https://as.example'),
  TokenSession: g.TokenSession.password(client, 'alice', 'PW-s3cret', [], { tokens }),
  SessionState: state,
  FleetConfig: fleetConfig,
  FleetState: new g.FleetState(client, { type: 'password', username: 'alice', password: 'PW-s3cret' }, fleetConfig, { tokens }),
  StoreEntry: new g.StoreEntry(3, tokens, 1_700_000_000),
};
// The state and PKCE verifier of the pending authorization are secrets too.
const pending = JSON.parse(authorization.pending.serialize());
SECRETS.push(pending.state, pending.code_verifier);

const leaks = (text) => SECRETS.filter((s) => text.includes(s));

test('every class of the package is covered here', () => {
  const classes = Object.entries(g).filter(([, v]) => typeof v === 'function' && v.prototype && typeof v.prototype.free === 'function').map(([k]) => k);
  assert.deepEqual(classes.sort(), Object.keys(instances).sort());
});

for (const [name, x] of Object.entries(instances)) {
  test(`${name}: JSON.stringify, console.log, util.inspect and String() show a redacted view`, () => {
    const json = JSON.stringify(x);
    assert.doesNotMatch(json, /__wbg_ptr/);
    assert.deepEqual(JSON.parse(json), JSON.parse(JSON.stringify(x.toJSON())));
    for (const shown of [json, inspect(x), inspect(x, { depth: Infinity, showHidden: true }), format('%o %O %s %j', x, x, x, x), String(x), inspect({ deep: [{ x }] }, { depth: 8 }), JSON.stringify({ level: 30, msg: 'renewed', x })]) {
      assert.deepEqual(leaks(shown), [], `${name} leaked a secret: ${shown}`);
    }
    assert.ok(inspect(x).startsWith(`${name} {`), inspect(x));
    assert.equal(inspect({ a: { b: x } }, { depth: 1 }), `{ a: { b: [${name}] } }`);
  });

  test(`${name}: structuredClone, postMessage and a spread copy fail with a DataCloneError that says what to do`, () => {
    const refused = (e) => e.name === 'DataCloneError' && e.message.startsWith(`${name} objects cannot be cloned`) && leaks(e.message).length === 0;
    assert.throws(() => structuredClone(x), refused);
    assert.throws(() => structuredClone({ nested: [x] }), refused);
    const { port1, port2 } = new MessageChannel();
    try {
      assert.throws(() => port1.postMessage({ x }), refused);
    } finally {
      port1.close();
      port2.close();
    }
    assert.throws(() => ({ ...x }), refused);
    assert.throws(() => Object.assign({}, x), refused);
    // Still fully usable afterwards.
    assert.doesNotThrow(() => x.toJSON());
  });
}

test('the TokenSet view: token type, expiry, scopes, whether a refresh token exists, every secret [redacted]', () => {
  assert.deepEqual(tokens.toJSON(), {
    accessToken: '[redacted]', tokenType: 'Bearer', expiresAt: 1_700_003_600, scopes: ['read', 'write'],
    refreshToken: '[redacted]', idToken: '[redacted]', issuedAt: 1_700_000_000, expirySource: 'expires_in', issuedTokenType: null,
    extra: { vendor_key: '[redacted]' },
  });
  const bare = new g.TokenSet({ accessToken: 'AT-s3cret', issuedAt: 5 });
  assert.equal(JSON.stringify(bare), '{"accessToken":"[redacted]","tokenType":"Bearer","expiresAt":null,"scopes":null,"refreshToken":null,"idToken":null,"issuedAt":5,"expirySource":"unknown","issuedTokenType":null,"extra":{}}');
  // serialize() stays the way to persist: the secrets survive it.
  const restored = g.TokenSet.deserialize(tokens.serialize());
  assert.equal(restored.accessToken, 'AT-s3cret');
  assert.equal(restored.refreshToken, 'RT-s3cret');
  assert.throws(() => structuredClone(restored), (e) => e.name === 'DataCloneError' && /tokens\.serialize\(\)/.test(e.message) && /TokenSet\.deserialize\(\)/.test(e.message));
});

test('the other views', () => {
  assert.deepEqual(authorization.pending.toJSON(), { state: '[redacted]', codeVerifier: '[redacted]', redirectUri: 'https://app.example/cb', nonce: null, maxAge: null });
  assert.deepEqual(oidcPending.toJSON(), { state: '[redacted]', codeVerifier: null, redirectUri: null, nonce: '[redacted]', maxAge: null });
  assert.throws(() => structuredClone(authorization.pending), (e) => /pending\.serialize\(\)/.test(e.message) && /PendingAuthorization\.deserialize\(\)/.test(e.message));
  assert.match(authorization.toJSON().url, /^https:\/\/as\.example\/authorize\?.*&state=\[redacted\]&/);
  assert.deepEqual(new g.CodeGrant('c').toJSON(), { code: '[redacted]', codeVerifier: null, redirectUri: null });
  assert.deepEqual(device.toJSON(), { deviceCode: '[redacted]', userCode: 'WDJB-MJHT', verificationUri: 'https://as.example/device', verificationUriComplete: null, expiresAt: 1_700_000_600, interval: 5 });
  assert.deepEqual(client.toJSON(), { provider: 'as', clientId: 'app', clientSecret: '[redacted]', redirectUri: 'https://app.example/cb', authMethod: 'client_secret_basic', timeout: 5000, signingKey: null });
  assert.deepEqual(new g.Client(provider, 'k', { signingKey }).toJSON().signingKey, { algorithm: 'EdDSA', kid: 'k1', key: '[redacted]' });
  assert.equal(new g.Client(provider, 'public', { timeout: Infinity }).toJSON().clientSecret, null);
  assert.equal(new g.Client(provider, 'public', { timeout: Infinity }).toJSON().timeout, null);
  assert.deepEqual(provider.toJSON().extraTokenParams, [['audience', 'api'], ['client_assertion', '[redacted]']]);
  assert.equal(provider.toJSON().tokenEndpoints.device_code, 'https://as.example/token');
  assert.deepEqual(instances.Discovery.toJSON(), { issuer: 'https://as.example', urls: ['https://as.example/.well-known/oauth-authorization-server', 'https://as.example/.well-known/openid-configuration'] });
  const session = instances.TokenSession.toJSON();
  assert.deepEqual(session.tokens, tokens.toJSON());
  assert.deepEqual({ ...session, tokens: undefined }, { client: client.toJSON(), renewing: false, failures: 0, retryAt: null, tokens: undefined });
  assert.equal(state.toJSON().client.timeout, null);
});

test("a session's next answers: JSON.stringify is redacted, the data itself is not", () => {
  const s = new g.SessionState(client, { type: 'client_credentials' }, { tokens });
  const ready = s.next(1_700_000_100);
  assert.equal(ready.token, 'AT-s3cret');
  assert.deepEqual({ ...ready }, { next: 'ready', token: 'AT-s3cret' });
  assert.equal(JSON.stringify(ready), '{"next":"ready","token":"[redacted]"}');
  const send = s.next(1_700_003_590);
  assert.equal(send.next, 'send');
  assert.deepEqual(leaks(JSON.stringify(send)), []);
  assert.deepEqual(leaks(inspect(send)), []);
});

test('a freed instance prints without throwing', () => {
  const t = g.TokenSet.deserialize(tokens.serialize());
  t.free();
  assert.equal(inspect(t), 'TokenSet {}');
  assert.throws(() => t.accessToken);
});

test('postMessage to a worker thread fails before anything is sent; serialize() crosses', async () => {
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    parentPort.once('message', async (m) => {
      const g = await import('grantline');
      const t = g.TokenSet.deserialize(m);
      parentPort.postMessage(JSON.stringify(t) + ' ' + t.refreshToken);
    });`, { eval: true });
  try {
    assert.throws(() => worker.postMessage(tokens), (e) => e.name === 'DataCloneError' && /serialize\(\)/.test(e.message));
    const answer = new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
    worker.postMessage(tokens.serialize());
    const [view, refresh] = (await answer).split(' ');
    assert.deepEqual(JSON.parse(view), tokens.toJSON());
    assert.equal(refresh, 'RT-s3cret');
  } finally {
    await worker.terminate();
  }
});
