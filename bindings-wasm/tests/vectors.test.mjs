// Every vector of tests/vectors/*.json through the npm package's public API, as a user
// imports it: the runner is vector-runner.mjs (shared with the other runtimes' runs, see
// ../runtimes); this file reads the files and judges. It fails at the end listing each failing
// vector with what differed. `GRANTLINE_VECTORS=<directory>` runs the vectors of another
// directory instead (trying out new vectors; the minimum counts are then not checked).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { MIN_EXTRA, MIN_SEED, runVectorFiles } from './vector-runner.mjs';

const DIR = process.env.GRANTLINE_VECTORS
  ? new URL(`file://${process.env.GRANTLINE_VECTORS.replace(/\/?$/, '/')}`)
  : new URL('../../tests/vectors/', import.meta.url);

test('every vector in tests/vectors passes through the JavaScript API', async () => {
  const files = readdirSync(DIR).filter((n) => n.endsWith('.json'));
  assert.ok(files.length >= (process.env.GRANTLINE_VECTORS ? 1 : 7), `expected the vector files in ${DIR}`);
  const { passed, failures, seed, extra } = await runVectorFiles(files.map((file) => [file, readFileSync(new URL(file, DIR), 'utf8')]));
  console.log(`vectors: ${passed} passed, ${failures.length} failed`);
  if (!process.env.GRANTLINE_VECTORS) {
    assert.ok(seed >= MIN_SEED, `only ${seed} vectors in the provider files`);
    assert.ok(extra >= MIN_EXTRA, `only ${extra} lenient and hostile vectors`);
  }
  assert.deepEqual(failures, []);
});
