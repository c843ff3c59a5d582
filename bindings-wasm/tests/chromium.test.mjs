// The built package in headless Chromium, as a page loads it: the browser entry (index.js, whose
// top-level await fetches the .wasm next to it), then what issue 10 asks of the classes there:
// JSON.stringify is the redacted view, and structuredClone / postMessage fail with the
// DataCloneError that points to serialize(). Driven through chromedriver's WebDriver HTTP API
// (the same chromium and chromedriver as the wasm-bindgen browser tests; flags from
// webdriver.json), the package served from 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, realpathSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = realpathSync(fileURLToPath(new URL('../node_modules/grantline', import.meta.url)));
const flags = JSON.parse(readFileSync(new URL('../webdriver.json', import.meta.url), 'utf8'))['goog:chromeOptions'].args;
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

/** Serves the package under /pkg/ and an empty page at /. */
function serve() {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>grantline</title>');
      return;
    }
    const file = normalize(join(pkg, decodeURIComponent(path.replace(/^\/pkg\//, ''))));
    if (!path.startsWith('/pkg/') || !file.startsWith(pkg)) {
      res.writeHead(404).end();
      return;
    }
    try {
      res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' }).end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** Runs in the page (WebDriver "execute async script"): the last argument is the callback. */
const IN_PAGE = `
const done = arguments[arguments.length - 1];
(async () => {
  const g = await import('/pkg/index.js');
  const out = {};
  const tokens = g.parseTokenResponse({ status: 200, body: JSON.stringify({ access_token: 'AT-s3cret', refresh_token: 'RT-s3cret', expires_in: 60, scope: 'read' }) }, 1000);
  out.json = JSON.stringify(tokens);
  out.view = JSON.stringify(tokens.toJSON());
  const refused = (f) => { try { f(); return 'no error'; } catch (e) { return e.name + ': ' + e.message; } };
  out.clone = refused(() => structuredClone(tokens));
  out.postMessage = refused(() => window.postMessage({ tokens }, '*'));
  const channel = new MessageChannel();
  out.port = refused(() => channel.port1.postMessage(tokens));
  out.pending = refused(() => structuredClone(new g.Client(g.Provider.libro(), 'id', { redirectUri: 'https://app.example/cb' }).authorizationUrl().pending));
  out.serialized = g.TokenSet.deserialize(structuredClone(tokens.serialize())).refreshToken;
  const client = new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 's', fetch: async () => new Response('{"access_token":"x"}') });
  out.aborted = await client.clientCredentials([], { signal: AbortSignal.abort() }).then(() => 'resolved', (e) => e.name + ' ' + (e instanceof g.TransportError));
  return out;
})().then(done, (e) => done({ failed: String(e && e.stack || e) }));
`;

async function webdriver(base, method, path, body) {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const answer = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(answer.value)}`);
  return answer.value;
}

test('in Chromium: the browser entry loads, tokens serialize as redacted data and refuse structured clones', async () => {
  const server = await serve();
  const port = await freePort();
  const driver = spawn('chromedriver', [`--port=${port}`], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  let session;
  try {
    // chromedriver answers once it listens.
    for (let i = 0; ; i += 1) {
      try {
        await webdriver(base, 'GET', '/status');
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    ({ sessionId: session } = await webdriver(base, 'POST', '/session', { capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': { args: flags } } } }));
    await webdriver(base, 'POST', `/session/${session}/timeouts`, { script: 60_000 });
    await webdriver(base, 'POST', `/session/${session}/url`, { url: `http://127.0.0.1:${server.address().port}/` });
    const out = await webdriver(base, 'POST', `/session/${session}/execute/async`, { script: IN_PAGE, args: [] });
    assert.equal(out.failed, undefined, out.failed);
    assert.equal(out.json, out.view);
    assert.deepEqual(JSON.parse(out.json), { accessToken: '[redacted]', tokenType: 'Bearer', expiresAt: 1060, scopes: ['read'], refreshToken: '[redacted]', idToken: null, issuedAt: 1000, expirySource: 'expires_in', issuedTokenType: null, extra: {} });
    for (const key of ['clone', 'postMessage', 'port']) {
      assert.match(out[key], /^DataCloneError: TokenSet objects cannot be cloned .*tokens\.serialize\(\)/, key);
    }
    assert.match(out.pending, /^DataCloneError: PendingAuthorization objects cannot be cloned .*pending\.serialize\(\)/);
    assert.equal(out.serialized, 'RT-s3cret');
    assert.equal(out.aborted, 'TransportError true');
  } finally {
    if (session) await webdriver(base, 'DELETE', `/session/${session}`).catch(() => {});
    driver.kill();
    server.close();
  }
});
