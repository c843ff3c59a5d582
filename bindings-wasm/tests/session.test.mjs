// TokenSession behaviour that needs no server: an injected fetch plays the token endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as g from 'grantline';

function endpoint(answer) {
  const f = async (url, init) => {
    f.calls += 1;
    return answer(f.calls, url, init);
  };
  f.calls = 0;
  return f;
}
const tokenResponse = (n) => new Response(JSON.stringify({ access_token: `access-${n}`, expires_in: 3600, refresh_token: `refresh-${n}` }), { status: 200, headers: { 'content-type': 'application/json' } });
const client = (fetch) => new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's', fetch });

test('a failed renewal reaches every waiting caller, and the next call tries again', async () => {
  const fetch = endpoint((n) => (n === 1 ? Promise.reject(new TypeError('network down')) : tokenResponse(n)));
  const session = g.TokenSession.clientCredentials(client(fetch));
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => session.getAccessToken()));
  assert.equal(fetch.calls, 1);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof g.TransportError, String(r.reason));
    assert.match(r.reason.message, /network down/);
  }
  assert.equal(await session.getAccessToken(), 'access-2');
  assert.equal(fetch.calls, 2);
});

test('onTokens runs before the token is handed out (also when async); a throwing onTokens fails only the renewing call', async () => {
  const fetch = endpoint((n) => tokenResponse(n));
  const order = [];
  const session = g.TokenSession.clientCredentials(client(fetch), [], {
    onTokens: async (tokens, info) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`persisted ${tokens.accessToken} rotated=${info.refreshTokenRotated}`);
    },
  });
  const token = await session.getAccessToken();
  order.push(`got ${token}`);
  assert.deepEqual(order, ['persisted access-1 rotated=true', 'got access-1']);

  const failing = g.TokenSession.clientCredentials(client(fetch), [], { onTokens: () => { throw new Error('disk full'); } });
  const [first, second] = await Promise.allSettled([failing.getAccessToken(), failing.getAccessToken()]);
  assert.equal(first.status, 'rejected');
  assert.match(String(first.reason), /disk full/);
  assert.equal(second.status, 'fulfilled');
  assert.equal(second.value, 'access-2');
  assert.equal(await failing.getAccessToken(), 'access-2', 'the session kept the new tokens');
  assert.equal(fetch.calls, 2);
});

test('a refresh that keeps the refresh token is not a rotation; a dead refresh token asks for reauthorization', async () => {
  const seen = [];
  const fetch = endpoint((n, url, init) => {
    if (n === 1) return new Response(JSON.stringify({ access_token: 'fresh', expires_in: 3600 }), { status: 200, headers: { 'content-type': 'application/json' } });
    return new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400, headers: { 'content-type': 'application/json' } });
  });
  const tokens = new g.TokenSet({ accessToken: 'old', refreshToken: 'rt-1', expiresAt: 1, issuedAt: 0 });
  const session = g.TokenSession.fromTokens(client(fetch), tokens, { onTokens: (t, info) => seen.push([t.refreshToken, info.refreshTokenRotated]) });
  assert.equal(await session.getAccessToken(), 'fresh');
  assert.deepEqual(seen, [['rt-1', false]]);
  session.reject('fresh');
  await assert.rejects(session.getAccessToken(), (e) => e instanceof g.OAuthError && e.code === 'invalid_grant');
  await assert.rejects(session.getAccessToken(), g.ReauthorizationRequiredError);
  assert.equal(fetch.calls, 2);
});

test('a server that answers with a redirect is refused, not followed', async () => {
  const fetch = endpoint(() => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example/' } }));
  const e = await client(fetch).clientCredentials().then(() => assert.fail('expected a TransportError'), (err) => err);
  assert.ok(e instanceof g.TransportError);
  assert.match(e.message, /redirect/);
});
