// The package's API around issue 9's core changes, without a server: discovery bound to the
// issuer (sans-IO and over an injected fetch), nullable client authentication, the new error
// kinds and their fields, provider-aware scope parsing, redactUrl, request objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as g from 'grantline';

const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

test('discover(issuer): RFC 8414 then OpenID Connect URLs, a 404 moves on, the issuer must match', async () => {
  const asked = [];
  const fetch = async (url, init) => {
    asked.push([init.method, url, init.redirect, init.body]);
    if (url.includes('oauth-authorization-server')) return new Response('', { status: 404 });
    return json({ issuer: 'https://as.example/tenant1', token_endpoint: 'https://as.example/tenant1/token' });
  };
  const provider = await g.discover('https://as.example/tenant1', { fetch });
  assert.equal(provider.issuer, 'https://as.example/tenant1');
  assert.equal(provider.tokenEndpoint('client_credentials'), 'https://as.example/tenant1/token');
  assert.deepEqual(asked, [
    ['GET', 'https://as.example/.well-known/oauth-authorization-server/tenant1', 'manual', undefined],
    ['GET', 'https://as.example/tenant1/.well-known/openid-configuration', 'manual', undefined],
  ]);
  // Provider.discover is the same; a full well-known URL is tried alone.
  const again = await g.Provider.discover('https://as.example/tenant1/.well-known/openid-configuration', { fetch });
  assert.equal(again.issuer, 'https://as.example/tenant1');

  const evil = () => json({ issuer: 'https://evil.example', token_endpoint: 'https://evil.example/token' });
  await assert.rejects(g.discover('https://as.example', { fetch: evil }), (e) => e instanceof g.StateMismatchError && e.kind === 'issuer_mismatch');
  await assert.rejects(g.discover('http://as.example', { fetch: evil }), (e) => e instanceof g.ConfigurationError && e.kind === 'insecure_endpoint');
  await assert.rejects(g.discover('https://as.example', { fetch: evil, colour: 'blue' }), (e) => e instanceof g.ConfigurationError && /colour/.test(e.message));
  const redirect = () => new Response(null, { status: 302, headers: { location: 'https://evil.example/' } });
  await assert.rejects(g.discover('https://as.example', { fetch: redirect }), (e) => e instanceof g.TransportError && /redirect/.test(e.message));
});

test('Discovery, sans-IO: its GET request can go to fetch as is (no body)', () => {
  const d = new g.Discovery('https://as.example');
  assert.equal(d.issuer, 'https://as.example');
  const r = d.request();
  assert.deepEqual(Object.keys(r), ['method', 'url', 'headers']);
  assert.doesNotThrow(() => new Request(r.url, r));
  assert.equal(d.receive({ status: 404 }), undefined);
  assert.throws(() => d.receive({ status: 404 }), (e) => e.kind === 'unexpected_status' && e.status === 404);
  assert.throws(() => new g.Discovery('https://u:p@as.example'), g.ConfigurationError);
  assert.equal(String(d), 'Discovery(https://as.example)');
});

test('metadata offering only unknown client authentication methods: authMethod undefined, a typed error with `offered`', () => {
  const p = g.Provider.fromMetadata({ issuer: 'https://as.example', token_endpoint: 'https://as.example/token', token_endpoint_auth_methods_supported: ['private_key_jwt', 'tls_client_auth'] });
  assert.equal(p.authMethod, undefined);
  assert.deepEqual(p.authMethodsOffered, ['private_key_jwt', 'tls_client_auth']);
  const c = new g.Client(p, 'id', { clientSecret: 's' });
  assert.equal(c.authMethod, undefined);
  assert.throws(() => c.clientCredentialsRequest([]), (e) => e instanceof g.ConfigurationError && e.kind === 'unsupported_auth_method' && e.offered.join() === 'private_key_jwt,tls_client_auth');
  const chosen = new g.Client(p, 'id', { clientSecret: 's', authMethod: 'client_secret_post' });
  assert.equal(chosen.authMethod, 'client_secret_post');
  assert.ok(chosen.clientCredentialsRequest([]).body.includes('client_secret=s'));
  // No list at all: the server decides (no local refusal of grants either).
  const open = g.Provider.fromMetadata({ issuer: 'https://as.example', token_endpoint: 'https://as.example/token' });
  assert.equal(open.authMethod, 'client_secret_basic');
  assert.equal(open.authMethodsOffered, undefined);
  assert.ok(open.supports('client_credentials'));
});

test("a provider's own scope separator splits response scopes; plain parsing splits on spaces only", async () => {
  const p = g.Provider.custom({ tokenEndpoint: 'https://as.example/token', grants: ['client_credentials'], scopeSeparator: ',' });
  const answer = { status: 200, body: '{"access_token":"a","scope":"read,write admin"}' };
  assert.deepEqual(p.parseTokenResponse(answer, 0).scopes, ['read', 'write', 'admin']);
  assert.deepEqual(g.parseTokenResponse(answer, 0).scopes, ['read,write', 'admin']);
  assert.deepEqual((await p.parseTokenResponse(new Response(answer.body), 0)).scopes, ['read', 'write', 'admin']);
  // The convenient calls parse with their provider.
  const c = new g.Client(p, 'id', { clientSecret: 's', fetch: async () => new Response(answer.body) });
  assert.deepEqual((await c.clientCredentials()).scopes, ['read', 'write', 'admin']);
});

test('bad per-call and client options are ConfigurationErrors', async () => {
  assert.throws(() => new g.Client(g.Provider.bindeo(), 'id', { timeout: -1 }), (e) => e instanceof g.ConfigurationError && /timeout/.test(e.message));
  assert.throws(() => new g.Client(g.Provider.bindeo(), 'id', { timeout: 'soon' }), g.ConfigurationError);
  const c = new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's', fetch: async () => new Response('{}') });
  await assert.rejects(c.clientCredentials([], { signal: 'stop' }), (e) => e instanceof g.ConfigurationError && /AbortSignal/.test(e.message));
  await assert.rejects(c.clientCredentials([], { timeout: 0 }), g.ConfigurationError);
  await assert.rejects(c.clientCredentials([], { retries: 3 }), (e) => /retries/.test(e.message));
  // Infinity: no deadline.
  assert.equal((await new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's', timeout: Infinity, fetch: async () => json({ access_token: 'x' }) }).clientCredentials()).accessToken, 'x');
});

test('redactUrl strips user information and redacts secrets in the query and the fragment', () => {
  assert.equal(g.redactUrl('https://user:pass@app.example/cb?code=abc&x=1#access_token=t&state=s'), 'https://app.example/cb?code=[redacted]&x=1#access_token=[redacted]&state=[redacted]');
});

test('new error kinds map to the documented classes and print no secret', () => {
  const unusable = new g.SessionState(new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's' }), { type: 'client_credentials' }, {
    tokens: JSON.stringify({ access_token: 'refused-token', token_type: 'Bearer', issued_at: 0, expiry_source: 'unknown' }),
  });
  assert.equal(unusable.reject('refused-token'), true);
  const send = unusable.next(10);
  const done = unusable.receive(send.id, { status: 200, body: '{"access_token":"refused-token"}' }, 10);
  assert.ok(done.error instanceof g.MalformedResponseError, String(done.error));
  assert.equal(done.error.kind, 'unusable_token');
  assert.equal(done.error.fault, 'response');
  assert.ok(!inspect(done.error).includes('refused-token'));
});
