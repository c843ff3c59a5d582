// The package's transport (the runtime's fetch: here Node's, global and injected) against the
// hostile loopback server (tests/hostile, started by tests/interop/servers.sh, which exports
// GRANTLINE_HOSTILE_URL), through both ways the package sends: a convenient call
// (`client.clientCredentials()`) and a session's renewal (`getAccessToken()`). Slow drips and
// hangs end at a short deadline, resets and truncations are transport errors, 50 MB bodies and
// gzip bombs stay bounded, redirects are never followed, gzip and deflate decode, error pages
// leak no secret. (Headless Chromium cannot reach this server across origins without CORS;
// the browser's fetch is covered by tests/browser.rs against a server that allows it.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import * as g from 'grantline';

const BASE = process.env.GRANTLINE_HOSTILE_URL;
// Deno's and Bun's test runners run these tests one after the other (not `concurrency: true`):
// their runs (runtimes/run.sh) take a shorter deadline.
const DEADLINE = Number(process.env.GRANTLINE_HOSTILE_DEADLINE_MS) || 2000;
// Deno's fetch neither asks for deflate (Accept-Encoding: gzip, br) nor decodes it: the zlib
// stream reaches the parser, a typed MalformedResponseError.
const DECODES_DEFLATE = typeof globalThis.Deno === 'undefined';
const SECRETS = ['S3cr3t!x', 'Xy7#longsecretvalue', 'hostile-leaked-access-token-0123456789'];

function provider(path) {
  return g.Provider.custom({ tokenEndpoint: `${BASE}${path}`, grants: ['client_credentials'], authMethod: 'client_secret_post' });
}
const client = (path, options = {}) => new g.Client(provider(path), 'hostile-client', { clientSecret: 'hostile-secret', timeout: DEADLINE, ...options });

/** Both ways the package sends a token request: a convenient call and a session's renewal. */
const WAYS = {
  call: (path, options) => client(path, options).clientCredentials(),
  session: async (path, options) => {
    const token = await g.TokenSession.clientCredentials(client(path, options)).getAccessToken();
    return { accessToken: token };
  },
};

/** Runs `f`, returns [error or undefined, result, milliseconds]. */
async function timed(f) {
  const start = Date.now();
  try {
    const r = await f();
    return [undefined, r, Date.now() - start];
  } catch (e) {
    return [e, undefined, Date.now() - start];
  }
}

function noSecretIn(e) {
  const shown = [String(e), e && e.message, e && e.stack, inspect(e, { depth: 5 }), JSON.stringify(e), e && e.excerpt, e && e.description].join('\n');
  for (const s of SECRETS) assert.ok(!shown.includes(s), `a secret of the page leaked: ${s.slice(0, 3)}…\n${shown}`);
  assert.ok(!shown.includes('hostile-secret'), 'the client secret leaked');
}

/** A fetch that counts the (decoded) body bytes the package pulls from each response. */
function countingFetch() {
  const f = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body) return res;
    const counted = res.body.pipeThrough(new TransformStream({
      transform(chunk, controller) { f.pulled += chunk.length; controller.enqueue(chunk); },
    }));
    return new Response(counted, { status: res.status, headers: res.headers });
  };
  f.pulled = 0;
  return f;
}

describe('hostile server', { concurrency: true, skip: BASE ? false : 'GRANTLINE_HOSTILE_URL is not set' }, () => {
  for (const [way, send] of Object.entries(WAYS)) {
    for (const path of ['/drip', '/drip-headers', '/hang']) {
      it(`${way}: ${path} ends at the ${DEADLINE} ms deadline with a TransportError`, async () => {
        const [e, , ms] = await timed(() => send(path));
        assert.ok(e instanceof g.TransportError, String(e));
        assert.equal(e.kind, 'transport');
        assert.match(e.message, new RegExp(`within ${DEADLINE} ms`));
        assert.match(e.message, new RegExp(`POST ${BASE}${path}`));
        assert.ok(ms >= DEADLINE - 100 && ms < DEADLINE + 3000, `ended after ${ms} ms`);
        noSecretIn(e);
      });
    }

    for (const path of ['/reset', '/close-mid-body']) {
      it(`${way}: ${path} is a TransportError`, async () => {
        const [e] = await timed(() => send(path));
        assert.ok(e instanceof g.TransportError, String(e));
        assert.equal(e.kind, 'transport');
        noSecretIn(e);
      });
    }

    for (const path of ['/huge', '/huge-chunked', '/gzip-bomb']) {
      it(`${way}: ${path} stops at the body cap (typed error, memory bounded)`, async () => {
        const counting = countingFetch();
        const [e, , ms] = await timed(() => send(path, { fetch: counting, timeout: 20000 }));
        assert.ok(e instanceof g.GrantlineError, String(e));
        assert.ok(e.kind === 'malformed' || e.kind === 'transport', `${e.kind}: ${e.message}`);
        assert.ok(counting.pulled > 1024 * 1024 && counting.pulled < 3 * 1024 * 1024, `pulled ${counting.pulled} bytes of 50 MiB`);
        assert.ok(ms < 15000, `took ${ms} ms`);
        // And with Node's global fetch as is.
        const [again] = await timed(() => send(path));
        assert.ok(again instanceof g.MalformedResponseError, String(again));
        assert.equal(again.kind, 'malformed');
      });
    }

    for (const status of [301, 302, 303, 307, 308]) {
      it(`${way}: /redirect-${status} is never followed`, async () => {
        const tag = `js-${way}-${status}-${Math.random().toString(36).slice(2)}`;
        await fetch(`${BASE}/captured/reset?tag=${tag}`, { method: 'POST' });
        const [e] = await timed(() => send(`/redirect-${status}?tag=${tag}`));
        assert.ok(e instanceof g.TransportError, String(e));
        assert.match(e.message, /redirect/);
        assert.ok(!e.message.includes(tag), 'the URL in the message has no query');
        const captured = await (await fetch(`${BASE}/captured?tag=${tag}`)).json();
        assert.equal(captured.count, 0, 'the redirect was followed');
      });
    }

    for (const [path, token] of [['/gzip', 'gzip-token'], ['/deflate', 'deflate-token']]) {
      it(`${way}: ${path} decodes to the token`, async () => {
        const [e, t] = await timed(() => send(path));
        if (path === '/deflate' && !DECODES_DEFLATE) {
          assert.ok(e instanceof g.MalformedResponseError && e.status === 200, String(e));
          return;
        }
        assert.equal(e, undefined, String(e));
        assert.equal(t.accessToken, token);
      });
    }

    it(`${way}: /html-error is a MalformedResponseError with no secret of the page anywhere`, async () => {
      const [e] = await timed(() => send('/html-error'));
      assert.ok(e instanceof g.MalformedResponseError, String(e));
      assert.equal(e.kind, 'unexpected_status');
      assert.equal(e.status, 502);
      noSecretIn(e);
    });

    it(`${way}: /empty-403 is an unexpected status 403`, async () => {
      const [e] = await timed(() => send('/empty-403'));
      assert.ok(e instanceof g.MalformedResponseError, String(e));
      assert.equal(e.kind, 'unexpected_status');
      assert.equal(e.status, 403);
    });

    it(`${way}: /error-200 is an OAuthError`, async () => {
      const [e] = await timed(() => send('/error-200'));
      assert.ok(e instanceof g.OAuthError, String(e));
      assert.equal(e.code, 'invalid_grant');
      assert.equal(e.status, 200);
      assert.equal(e.description, 'bad grant');
    });
  }

  it('per-call deadline and abort signal on a convenient call', async () => {
    const c = client('/drip', { timeout: 60000 });
    const [e, , ms] = await timed(() => c.clientCredentials([], { timeout: 500 }));
    assert.ok(e instanceof g.TransportError && /within 500 ms/.test(e.message), String(e));
    assert.ok(ms < 3000, `${ms} ms`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user gave up')), 300);
    const [aborted, , ms2] = await timed(() => c.clientCredentials([], { signal: controller.signal }));
    assert.ok(aborted instanceof g.TransportError && /aborted \(user gave up\)/.test(aborted.message), String(aborted));
    assert.ok(ms2 < 3000, `${ms2} ms`);
  });

  it('discover() and session.fetch() honour the deadline too', async () => {
    // The well-known URLs of an issuer are not routes of this server: send them to /hang.
    const toHang = (input, init) => fetch(`${BASE}/hang`, init);
    const [e, , ms] = await timed(() => g.discover(BASE, { timeout: 500, fetch: toHang }));
    assert.ok(e instanceof g.TransportError && /500 ms/.test(e.message), String(e));
    assert.ok(ms < 3000);
    const session = g.TokenSession.clientCredentials(client('/ok'));
    const [f, , ms2] = await timed(() => session.fetch(`${BASE}/hang`, {}, { timeout: 500 }));
    assert.ok(f instanceof g.TransportError && /within \d+ ms/.test(f.message), String(f));
    assert.ok(ms2 < 3000);
    const ok = await session.fetch(`${BASE}/ok`);
    assert.equal(ok.status, 200);
  });
});
