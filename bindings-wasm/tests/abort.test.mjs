// Every call of the package that goes to the network takes `{ signal, timeout }`: an AbortSignal
// that has already aborted starts nothing, one that aborts mid-call ends it (and aborts the
// signal the injected fetch got, so the connection is freed), and a deadline ends it. Each
// ends in a TransportError. (The hostile-server suite covers real sockets.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as g from 'grantline';

/** A fetch that never answers (until its signal aborts, as a real fetch does) and keeps what it got. */
function hanging() {
  const f = (input, init) => {
    f.calls.push({ url: String(input && input.url ? input.url : input), signal: init && init.signal });
    return new Promise((resolve, reject) => {
      const signal = init && init.signal;
      if (signal) signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  };
  f.calls = [];
  return f;
}

const provider = g.Provider.custom({
  name: 'as', issuer: 'https://as.example', tokenEndpoint: 'https://as.example/token',
  introspectionEndpoint: 'https://as.example/introspect', revocationEndpoint: 'https://as.example/revoke',
  deviceAuthorizationEndpoint: 'https://as.example/device',
  grants: ['authorization_code', 'client_credentials', 'password', 'refresh_token', 'device_code'],
});
const client = (fetch, timeout) => new g.Client(provider, 'app', { clientSecret: 's', redirectUri: 'https://app.example/cb', fetch, timeout });
// A session's renewal goes on when its caller stops waiting (it is shared): against a fetch that
// never answers, it ends at the client's deadline, which would hold this file's process open for
// the default 30 s; the sessions' clients here have 3 s.
const sessionClient = (fetch) => client(fetch, 3000);
const device = g.parseDeviceAuthorizationResponse({ status: 200, body: '{"device_code":"d","user_code":"U","verification_uri":"https://as.example/activate","interval":1}' });
const grant = new g.CodeGrant('code', 'verifier', 'https://app.example/cb');

// Every network call, given a fetch and its per-call options.
const CALLS = {
  clientCredentials: (f, o) => client(f).clientCredentials([], o),
  password: (f, o) => client(f).password('alice', 'pw', [], o),
  refresh: (f, o) => client(f).refresh('rt', [], o),
  exchangeCode: (f, o) => client(f).exchangeCode(grant, o),
  deviceAuthorization: (f, o) => client(f).deviceAuthorization([], o),
  pollDeviceToken: (f, o) => client(f).pollDeviceToken(device, o),
  introspect: (f, o) => client(f).introspect('token', { hint: 'access_token', ...o }),
  revoke: (f, o) => client(f).revoke('token', 'access_token', o),
  discover: (f, o) => g.discover('https://as.example', { fetch: f, ...o }),
  'Provider.discover': (f, o) => g.Provider.discover('https://as.example', { fetch: f, ...o }),
  'TokenSession.getAccessToken': (f, o) => g.TokenSession.clientCredentials(sessionClient(f)).getAccessToken(o),
  'TokenSession.fetch (options)': (f, o) => g.TokenSession.clientCredentials(sessionClient(f)).fetch('https://api.example/x', {}, o),
  'TokenSession.fetch (init.signal)': (f, o) => g.TokenSession.clientCredentials(sessionClient(f)).fetch('https://api.example/x', { signal: o.signal }, { timeout: o.timeout }),
};

const transport = (pattern) => (e) => e instanceof g.TransportError && e.kind === 'transport' && pattern.test(e.message);

for (const [name, call] of Object.entries(CALLS)) {
  test(`${name}: an aborted signal starts nothing`, async () => {
    const f = hanging();
    await assert.rejects(call(f, { signal: AbortSignal.abort(new Error('stop')) }), transport(/abort|polling stopped|stop/));
    assert.equal(f.calls.length, 0);
  });

  test(`${name}: an abort mid-call ends it, and aborts what fetch got`, async () => {
    const f = hanging();
    const controller = new AbortController();
    const pending = call(f, { signal: controller.signal });
    const settled = pending.then(() => 'resolved', (e) => e);
    // Abort once the request is out (the device poll first waits its interval).
    while (f.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('user left'));
    const e = await settled;
    assert.ok(transport(/aborted \(user left\)|waiting for the token renewal: aborted/)(e), String(e));
    // A call of the client's own aborts its request; a session caller only stops waiting (the
    // renewal is shared and goes on: tests/session.test.mjs).
    if (!name.startsWith('TokenSession')) assert.equal(f.calls.at(-1).signal.aborted, true);
  });

  test(`${name}: a per-call timeout ends it`, async () => {
    const f = hanging();
    await assert.rejects(call(f, { timeout: 30 }), transport(/30 ms/));
  });
}

test("a session's fetch names the call's whole deadline when what is left of it runs out", async () => {
  // The token arrives after 40 ms of the 120 ms deadline; the API call then hangs. Its own
  // deadline is what is left (about 80 ms); the message names the one the caller set.
  const f = (input, init) => {
    if (String(input.url || input).includes('/token')) {
      return new Promise((resolve) => setTimeout(() => resolve(new Response('{"access_token":"a","token_type":"Bearer","expires_in":60}', { headers: { 'content-type': 'application/json' } })), 40));
    }
    return hanging()(input, init);
  };
  const session = g.TokenSession.clientCredentials(client(f));
  await assert.rejects(session.fetch('https://api.example/x', {}, { timeout: 120 }), transport(/within 120 ms/));
});

test('a call right after another with the same deadline still ends at it (the shared timer is held again)', async () => {
  let hang = false;
  const fetch = () => (hang ? new Promise(() => {}) : Promise.resolve(new Response('{"access_token":"a","token_type":"Bearer","expires_in":60}', { headers: { 'content-type': 'application/json' } })));
  const c = new g.Client(provider, 'app', { clientSecret: 's', fetch, timeout: 200 });
  assert.equal((await c.clientCredentials([])).accessToken, 'a');
  hang = true;
  const start = Date.now();
  await assert.rejects(c.clientCredentials([]), (e) => e instanceof g.TransportError && /within 200 ms/.test(e.message));
  assert.ok(Date.now() - start >= 200 && Date.now() - start < 2000);
});
