// Every ```js block of bindings-wasm/README.md and of the project's README.md runs as written (against the built package,
// with tests/fake-fetch.mjs standing in for the network) and exits 0: as an ES module, or as
// CommonJS when it require()s the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const readmes = { 'bindings-wasm/README.md': '../README.md', 'README.md': '../../README.md' };
const blocks = Object.entries(readmes).flatMap(([name, path]) => {
  const text = readFileSync(new URL(path, import.meta.url), 'utf8');
  return [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m, i) => [`${name} example ${i + 1}`, m[1]]);
});

test('the READMEs have JavaScript examples', () => {
  assert.ok(blocks.filter(([n]) => n.startsWith('bindings-wasm')).length >= 5);
  // The native forms come first: fetch with a token, then token sets as data.
  const first = blocks.find(([n]) => n.startsWith('bindings-wasm'))[1];
  assert.match(first, /session\.fetch\(.*signal: AbortSignal/);
  assert.ok(blocks.some(([, code]) => /require\('grantline'\)/.test(code)), 'a CommonJS example');
  assert.ok(blocks.filter(([n]) => n.startsWith('README')).length >= 2);
});

blocks.forEach(([name, code]) => {
  test(`${name} runs as written`, () => {
    const type = /\brequire\('grantline'\)/.test(code) ? 'commonjs' : 'module';
    const r = spawnSync(process.execPath, [`--input-type=${type}`, '--import', './tests/fake-fetch.mjs', '-e', code], { cwd: here, encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} failed:\n${code}\n${r.stderr}`);
    assert.ok(!/access-\d|refresh-\d|CLIENT.SECRET|PASSWORD/.test(r.stdout), `a secret was printed:\n${r.stdout}`);
  });
});
