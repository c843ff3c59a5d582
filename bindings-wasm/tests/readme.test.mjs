// Every ```js block of bindings-wasm/README.md runs as written (against the built package,
// with tests/fake-fetch.mjs standing in for the network) and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);

test('the README has JavaScript examples', () => assert.ok(blocks.length >= 5, `${blocks.length} blocks`));

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs as written`, () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '--import', './tests/fake-fetch.mjs', '-e', code], { cwd: here, encoding: 'utf8' });
    assert.equal(r.status, 0, `example ${i + 1} failed:\n${code}\n${r.stderr}`);
    assert.ok(!/access-\d|refresh-\d|CLIENT.SECRET|PASSWORD/.test(r.stdout), `a secret was printed:\n${r.stdout}`);
  });
});
