// Size against oauth4webapi and the budget (run by bindings-wasm/size.sh, after the build): the
// package's code (every .js, .cjs and the .wasm, each gzipped -9) against oauth4webapi's published
// code (its build/*.js, gzipped -9); what each entry point loads (the entry and every module it
// imports, and the .wasm); and what a Cloudflare Worker uploads: the workerd.js entry and what
// it imports, as files and as one script bundled the way wrangler does (esbuild, when .tools has
// it), beside the .wasm module. Prints figures and the budget's verdict (the package's code at
// most 120 KB gzipped); nothing here fails on a size. KB: 1,000 bytes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { moduleClosure } from './graph.mjs';

const BUDGET = 120_000;
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const PKG = resolve(process.argv[2] || join(ROOT, 'target/npm/grantline'));
const OAUTH = join(HERE, '../node_modules/oauth4webapi');
const ESBUILD = join(ROOT, '.tools/node_modules/.bin/esbuild');

// GNU gzip -9 as size.sh measures (its deflate compresses a little better than zlib's), zlib's
// level 9 where there is no gzip.
const hasGzip = spawnSync('gzip', ['--version']).status === 0;
const gz = (bytes) => (hasGzip
  ? spawnSync('gzip', ['-9', '-c'], { input: bytes, maxBuffer: 64 << 20 }).stdout.length
  : gzipSync(bytes, { level: 9 }).length);
const kb = (n) => `${(n / 1000).toFixed(1).padStart(7)} KB`;
const sizes = (root, files) => files.reduce((acc, f) => {
  const bytes = readFileSync(join(root, f));
  return { raw: acc.raw + bytes.length, gz: acc.gz + gz(bytes) };
}, { raw: 0, gz: 0 });
const line = (what, s) => console.log(`  ${what.padEnd(58)} ${kb(s.raw)} ${kb(s.gz)} gzipped`);

function walk(dir, prefix = '') {
  return readdirSync(dir).flatMap((name) => {
    const rel = prefix ? `${prefix}/${name}` : name;
    return statSync(join(dir, name)).isDirectory() ? walk(join(dir, name), rel) : [rel];
  });
}

console.log('\nsize against oauth4webapi (each file gzipped -9):');
const code = walk(PKG).filter((f) => /\.(js|cjs|wasm)$/.test(f));
const wasm = code.filter((f) => f.endsWith('.wasm'));
const total = sizes(PKG, code);
line('grantline: the package\'s code (.js, .cjs, .wasm)', total);
line('  of which the .wasm', sizes(PKG, wasm));
line('  of which JavaScript', sizes(PKG, code.filter((f) => !f.endsWith('.wasm'))));
for (const [entry, who] of [['node.js', 'Node and Bun (import)'], ['index.js', 'browsers and Deno'], ['workerd.js', 'Cloudflare Workers']]) {
  line(`  what ${who} load (${entry} and its imports)`, sizes(PKG, moduleClosure(PKG, entry)));
}
let theirs;
if (existsSync(OAUTH)) {
  const version = JSON.parse(readFileSync(join(OAUTH, 'package.json'), 'utf8')).version;
  const build = join(OAUTH, 'build');
  theirs = sizes(build, readdirSync(build).filter((f) => f.endsWith('.js')));
  line(`oauth4webapi ${version}: its published code (build/*.js)`, theirs);
} else {
  console.log('  oauth4webapi: not installed (bindings-wasm/test.sh bench installs it)');
}

// A Worker: the files, and one script bundled as wrangler bundles it (the .wasm stays a module).
const worker = moduleClosure(PKG, 'workerd.js');
const workerWasm = worker.filter((f) => f.endsWith('.wasm'));
line('a Worker uploads (workerd.js, its modules, the .wasm)', sizes(PKG, worker));
if (existsSync(ESBUILD)) {
  const dir = mkdtempSync(join(tmpdir(), 'grantline-size-'));
  try {
    const out = join(dir, 'worker.js');
    const r = spawnSync(ESBUILD, [join(realpathSync(PKG), 'workerd.js'), '--bundle', '--format=esm', '--minify', '--keep-names',
      '--external:*.wasm', '--log-level=error', `--outfile=${out}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`size: esbuild failed: ${r.stderr}`);
    const bundled = readFileSync(out);
    const w = sizes(PKG, workerWasm);
    line('  bundled as wrangler does: the script + the .wasm', { raw: bundled.length + w.raw, gz: gz(bundled) + w.gz });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log('  (Cloudflare\'s limit on a Worker: 3 MB compressed on the Free plan, 10 MB on the Paid plan)');

const over = total.gz - BUDGET;
console.log(`\nbudget (size): the package's code at most ${kb(BUDGET).trim()} gzipped: ${kb(total.gz).trim()}${theirs ? ` (${(total.gz / theirs.gz).toFixed(1)}x oauth4webapi's)` : ''} -> ${over <= 0 ? 'within budget' : `OVER budget by ${kb(over).trim()}`}`);
