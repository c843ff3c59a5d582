// The package's TypeScript declarations compile under `tsc --strict` with a program that uses
// the API (tests/types.ts) and a CommonJS one (tests/types-cjs.cts, whose imports compile to
// require()), resolved through the package's `exports` like a user's project.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('..', import.meta.url));

test('the .d.ts type-checks a program that uses the API (tsc --strict)', () => {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck', 'false', 'tests/types.ts', 'tests/types-cjs.cts'], { cwd: here, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
