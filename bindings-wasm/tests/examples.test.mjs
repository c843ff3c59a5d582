// The JavaScript examples in examples/js run against the interop servers: the Node script as
// a user would start it, and the Worker module's fetch handler (in Node, which has the same
// Web APIs). The Worker example may import nothing but the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const examples = new URL('../../examples/js/', import.meta.url);
const AUTHLIB = process.env.GRANTLINE_AUTHLIB_URL;
const MOCK = process.env.GRANTLINE_MOCK_URL;

test('examples/js/node.mjs: client credentials and a session against Authlib', () => {
  assert.ok(AUTHLIB, 'GRANTLINE_AUTHLIB_URL is not set');
  const r = spawnSync(process.execPath, [new URL('node.mjs', examples).pathname], {
    encoding: 'utf8',
    env: { ...process.env, GRANTLINE_ISSUER: AUTHLIB, SCOPES: 'read', API_URL: `${AUTHLIB}/api/me` },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /10 callers, 1 token/);
  assert.match(r.stdout, /TokenSet \{\s+accessToken: '\[redacted\]'/);
  assert.match(r.stdout, /API answered 200/);
  assert.ok(!r.stdout.includes('test-secret'));
  const wrong = spawnSync(process.execPath, [new URL('node.mjs', examples).pathname], {
    encoding: 'utf8', env: { ...process.env, GRANTLINE_ISSUER: AUTHLIB, CLIENT_SECRET: 'wrong' },
  });
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /OAuthError \(oauth, invalid_client\)/);
});

test('examples/js/worker.mjs imports only the package, and its handler serves through a session', async () => {
  const source = readFileSync(new URL('worker.mjs', examples), 'utf8');
  const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
  assert.deepEqual(imports, ['grantline']);
  assert.ok(!/\b(process|require|Buffer|__dirname)\b/.test(source.replace(/^\/\/.*$/gm, '')), 'Node-only globals');
  assert.ok(MOCK && AUTHLIB);
  const worker = (await import(new URL('worker.mjs', examples).href)).default;
  const env = { TOKEN_URL: `${AUTHLIB}/token`, CLIENT_ID: 'test-client', CLIENT_SECRET: 'test-secret', SCOPES: 'read', API_URL: `${AUTHLIB}/api/me` };
  const response = await worker.fetch(new Request('https://worker.example/'), env);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).client_id, 'test-client');
});
