// What `npm pack` would publish: every file the `exports` name, one WebAssembly module for
// every entry point (the CommonJS door included: no second copy, embedded or not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const pkg = realpathSync(fileURLToPath(new URL('../node_modules/grantline', import.meta.url)));

test('the packed files: every exports target, exactly one .wasm, no WebAssembly inlined in JavaScript', () => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const files = packed.files.map((f) => f.path);
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const targets = [];
  const walk = (v) => (typeof v === 'string' ? targets.push(v.replace(/^\.\//, '')) : Object.values(v).forEach(walk));
  walk(manifest.exports);
  walk(manifest.imports);
  for (const t of targets) assert.ok(files.includes(t), `exports names ${t}, which is not packed`);
  assert.deepEqual(files.filter((f) => f.endsWith('.wasm')), ['grantline_bg.wasm']);
  for (const f of files.filter((name) => /\.[cm]?js$/.test(name))) {
    const source = readFileSync(join(pkg, f), 'utf8');
    // "\0asm" in base64, as a bundler would inline a module.
    assert.ok(!source.includes('AGFzbQ'), `${f} embeds a WebAssembly module`);
    for (const [, name] of source.matchAll(/['"/]([\w.-]+\.wasm)['"]/g)) assert.equal(name, 'grantline_bg.wasm', `${f} loads ${name}`);
  }
});

test('the main entry points never load grantline/redis (nor node-redis): an edge bundle stays as it was', () => {
  const main = ['index.js', 'node.js', 'node.cjs', 'workerd.js', 'errors.js', 'support.js', 'grantline_core.js'];
  for (const f of main) {
    const source = readFileSync(join(pkg, f), 'utf8');
    assert.doesNotMatch(source, /redis\.js|from ['"]redis['"]|require\(['"]redis['"]\)/, f);
  }
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  assert.deepEqual(manifest.exports['./redis'], { types: './redis.d.ts', default: './redis.js' });
  assert.equal(manifest.peerDependenciesMeta.redis.optional, true);
  assert.equal(manifest.dependencies, undefined, 'no dependency');
  // redis.js takes the core's Lua through the package itself (#grantline), never a copy.
  const adapter = readFileSync(join(pkg, 'redis.js'), 'utf8');
  assert.match(adapter, /from\s*['"]#grantline['"]/);
  assert.doesNotMatch(adapter, /redis\.call/);
});
