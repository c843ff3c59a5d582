// CommonJS: `require('grantline')` on Node gives the package's ES module itself (require() of
// ES modules): the same module instance as `import`, so one WebAssembly instance and one set of
// classes. On a Node without require() of ES modules, the error says what to do.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { inspect } = require('node:util');

test("require('grantline') works, and is the very module `import` loads", async () => {
  const g = require('grantline');
  const client = new g.Client(g.Provider.bindeo(), 'id', { clientSecret: 'CS-s3cret', fetch: async () => Response.json({ access_token: 'AT-s3cret', expires_in: 60 }) });
  const tokens = await client.clientCredentials();
  assert.equal(tokens.accessToken, 'AT-s3cret');
  assert.ok(!inspect(tokens).includes('AT-s3cret') && !JSON.stringify(tokens).includes('AT-s3cret'));
  const esm = await import('grantline');
  assert.equal(esm.TokenSet, g.TokenSet);
  assert.ok(tokens instanceof esm.TokenSet);
  assert.throws(() => esm.TokenSet.deserialize('{'), g.ConfigurationError);
  assert.equal(require.resolve('grantline').endsWith('node.cjs'), true, require.resolve('grantline'));
});

test("require('grantline/redis') gives the Redis store, over the same module instance", async () => {
  const { redisStore } = require('grantline/redis');
  assert.equal(typeof redisStore, 'function');
  assert.throws(() => redisStore({}), /node-redis client/);
  const { redisStore: esm } = await import('grantline/redis');
  assert.equal(esm, redisStore);
});

test('without require() of ES modules (older Node), the error says to use import()', (t) => {
  const probe = spawnSync(process.execPath, ['--no-experimental-require-module', '-p', 'process.features.require_module'], { encoding: 'utf8' });
  if (probe.status !== 0 || probe.stdout.trim() !== 'false') {
    t.skip('this Node cannot turn require() of ES modules off');
    return;
  }
  const r = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', `
    try { require('grantline'); } catch (e) { console.log(e.code + ' ' + e.message); process.exit(3); }`], { cwd: __dirname, encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /^ERR_REQUIRE_ESM grantline: require\('grantline'\) needs Node 20\.19\+ or 22\.12\+.*await import\('grantline'\)/);
});
