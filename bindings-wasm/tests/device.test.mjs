// pollDeviceToken follows the core's DeviceFlow: it waits, polls, and ends with the server's own
// error, or with `expired_token` (no HTTP status) once the device code's `expires_in` has passed,
// however long a server keeps answering "pending".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as g from 'grantline';

const provider = g.Provider.custom({
  name: 'as', issuer: 'https://as.example', tokenEndpoint: 'https://as.example/token',
  deviceAuthorizationEndpoint: 'https://as.example/device', grants: ['device_code'],
});

/** A token endpoint answering every poll with `answer` (status, JSON), counting the polls. */
function endpoint(status, answer) {
  const f = async () => {
    f.polls += 1;
    return new Response(JSON.stringify(answer), { status, headers: { 'content-type': 'application/json' } });
  };
  f.polls = 0;
  return f;
}

const device = (expiresIn) => g.parseDeviceAuthorizationResponse({
  status: 200,
  body: JSON.stringify({ device_code: 'dc-secret', user_code: 'U', verification_uri: 'https://as.example/v', interval: 1, expires_in: expiresIn }),
});

test('a server answering "pending" forever cannot keep the device polling past its expiry', { timeout: 10_000 }, async () => {
  const fetch = endpoint(400, { error: 'authorization_pending' });
  const client = new g.Client(provider, 'tv', { fetch });
  // Expiry is in whole seconds from the second the answer was parsed: `expires_in: 3` is 2 to 3 s
  // of real time, so the polls at about 1 s and 2 s (interval 1) give one or two polls, however
  // late in its second the test starts. (With 2, a start in the last few ms of a second made the
  // first wait end past the expiry: no poll at all, which failed a cold CI run.)
  await assert.rejects(client.pollDeviceToken(device(3)), (e) => {
    assert.ok(e instanceof g.OAuthError, String(e));
    assert.equal(e.code, 'expired_token');
    assert.ok(!String(e).includes('dc-secret'));
    return true;
  });
  assert.ok(fetch.polls >= 1 && fetch.polls <= 2, `polls: ${fetch.polls}`);
});

test('a denial ends the flow with the server\'s own error', async () => {
  const fetch = endpoint(400, { error: 'access_denied', error_description: 'the user said no' });
  const client = new g.Client(provider, 'tv', { fetch });
  await assert.rejects(client.pollDeviceToken(device(600)), (e) => {
    assert.ok(e instanceof g.OAuthError, String(e));
    assert.equal(e.code, 'access_denied');
    assert.equal(e.description, 'the user said no');
    assert.equal(e.status, 400);
    return true;
  });
  assert.equal(fetch.polls, 1);
});
