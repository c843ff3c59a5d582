// The npm package in a real Worker: writes a workerd config (Cap'n Proto) whose modules are the
// Worker (runtimes/workerd/worker.mjs), the package as the `workerd` export condition selects it
// (its module graph from that entry, the .wasm as a compiled WebAssembly.Module) and the shared
// vectors as text modules; starts workerd on 127.0.0.1 (a free port, read from --control-fd),
// drives the Worker over HTTP and stops it. Under tests/interop/servers.sh run (the Worker's
// token servers are GRANTLINE_LOAD_URL, and oidc-provider, Authlib and oauth2-mock-server at
// GRANTLINE_OIDC_URL / _AUTHLIB_URL / _MOCK_URL, reached through a network service that allows
// loopback addresses only). Prints the counts; exits 1 with the details on any failure.
//
//   node runtimes/workerd.mjs          (GRANTLINE_WORKERD: the binary, default .tools/runtimes/bin/workerd)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WASM_DIR = path.resolve(HERE, '..');
const ROOT = path.resolve(WASM_DIR, '..');
const WORKERD = process.env.GRANTLINE_WORKERD || path.join(ROOT, '.tools/runtimes/bin/workerd');
const VECTORS = path.join(ROOT, 'tests/vectors');
const LOAD = (process.env.GRANTLINE_LOAD_URL || '').replace(/\/$/, '');
// The third-party servers of servers.sh, for the Worker's interop checks.
const INTEROP = Object.fromEntries(['OIDC', 'AUTHLIB', 'MOCK'].map((n) => [n, (process.env[`GRANTLINE_${n}_URL`] || '').replace(/\/$/, '')]));
const STARTUP_MS = 20_000;
const REQUEST_MS = 90_000;
const WATCHDOG_MS = 180_000;
const SHARED_CALLERS = 20;

const started = Date.now();
let child;
let tmp;
let log = '';

function fail(message) {
  const error = new Error(message);
  error.expected = true;
  throw error;
}

/** The package's ES modules reachable from `entry` (static imports), and the .wasm they import. */
function moduleGraph(pkg, entry) {
  const seen = new Map();
  const visit = (rel) => {
    const file = path.posix.normalize(rel);
    if (seen.has(file)) return;
    if (file.startsWith('..')) fail(`the package imports ${rel}, outside itself`);
    const text = readFileSync(path.join(pkg, file), file.endsWith('.wasm') ? null : 'utf8');
    seen.set(file, file.endsWith('.wasm') ? 'wasm' : 'esModule');
    if (file.endsWith('.wasm')) return;
    // Static imports and re-exports, minified or not: `import x from './a.js'`, `;import{a as b}from"./b.js"`.
    const specifiers = [...text.matchAll(/(?:^|[;}])[ \t]*(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?['"]([^'"\n]+)['"]/gm)].map((m) => m[1]);
    for (const s of specifiers) {
      if (!s.startsWith('./') && !s.startsWith('../')) fail(`${file} imports ${s}: a Worker without nodejs_compat has no such module`);
      visit(path.posix.join(path.posix.dirname(file), s));
    }
  };
  visit(entry);
  return seen;
}

/** A capnp string literal (JSON's escapes are capnp's). */
const str = (s) => JSON.stringify(s);

function writeConfig(dir) {
  const pkg = realpathSync(path.join(WASM_DIR, 'node_modules/grantline'));
  const manifest = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  const entry = manifest.exports?.['.']?.workerd;
  if (typeof entry !== 'string') fail(`${pkg}/package.json: no \`workerd\` condition in exports["."]`);
  const graph = moduleGraph(pkg, entry);
  if (![...graph.values()].includes('wasm')) fail(`${entry} imports no .wasm`);

  const rel = (file) => path.relative(dir, file);
  const files = readdirSync(VECTORS).filter((n) => n.endsWith('.json')).sort();
  // The vector list as a module: the text modules, imported by name.
  writeFileSync(path.join(dir, 'vector-files.mjs'), [
    ...files.map((f, i) => `import f${i} from './vectors/${f}';`),
    `export default [${files.map((f, i) => `[${str(f)}, f${i}]`).join(', ')}];`,
    '',
  ].join('\n'));
  const modules = [
    `(name = "worker.mjs", esModule = embed ${str(rel(path.join(HERE, 'workerd/worker.mjs')))})`,
    `(name = "vector-runner.mjs", esModule = embed ${str(rel(path.join(WASM_DIR, 'tests/vector-runner.mjs')))})`,
    '(name = "vector-files.mjs", esModule = embed "vector-files.mjs")',
    ...files.map((f) => `(name = ${str(`vectors/${f}`)}, text = embed ${str(rel(path.join(VECTORS, f)))})`),
    // `import ... from 'grantline'`, resolved as the package's exports say for workerd.
    `(name = "grantline", esModule = ${str(`export * from './grantline/${path.posix.normalize(entry)}';\n`)})`,
    ...[...graph].map(([file, type]) => `(name = ${str(`grantline/${file}`)}, ${type} = embed ${str(rel(path.join(pkg, file)))})`),
  ];
  const date = /(\d{4}-\d{2}-\d{2})/.exec(execFileSync(WORKERD, ['--version'], { encoding: 'utf8' }))?.[1];
  if (!date) fail(`${WORKERD} --version: no date`);
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # The Worker's fetch reaches loopback addresses only (the load server).
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')},
  ],
  compatibilityDate = ${str(date)},
  globalOutbound = "loopback",
  bindings = [
    (name = "LOAD_URL", text = ${str(LOAD)}),
    (name = "OIDC_URL", text = ${str(INTEROP.OIDC)}),
    (name = "AUTHLIB_URL", text = ${str(INTEROP.AUTHLIB)}),
    (name = "MOCK_URL", text = ${str(INTEROP.MOCK)}),
  ],
);
`;
  writeFileSync(path.join(dir, 'config.capnp'), config);
  return { date, files, graph };
}

/** Starts workerd; resolves with the port its socket listens on. */
function startWorkerd(dir) {
  return new Promise((resolve, reject) => {
    child = spawn(WORKERD, ['serve', path.join(dir, 'config.capnp'), 'config', '--control-fd', '3'], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    const timer = setTimeout(() => reject(new Error(`workerd did not listen within ${STARTUP_MS} ms`)), STARTUP_MS);
    let control = '';
    child.stdio[3].on('data', (d) => {
      control += d;
      for (const line of control.split('\n').slice(0, -1)) {
        const m = JSON.parse(line);
        if (m.event === 'listen' && m.socket === 'http') {
          clearTimeout(timer);
          resolve(m.port);
        }
      }
      control = control.slice(control.lastIndexOf('\n') + 1);
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`workerd exited (${signal || code}) before listening`)); });
  });
}

async function stopWorkerd() {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function get(base, pathname) {
  const res = await fetch(`${base}${pathname}`, { signal: AbortSignal.timeout(REQUEST_MS) });
  const body = await res.text();
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    fail(`GET ${pathname}: HTTP ${res.status}, not JSON: ${body.slice(0, 500)}`);
  }
  if (res.status !== 200) fail(`GET ${pathname}: HTTP ${res.status}: ${value.error ?? body}`);
  return value;
}

async function loadAdmin(pathname, body) {
  const res = await fetch(`${LOAD}/admin/${pathname}`, {
    ...(body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) fail(`load server /admin/${pathname}: HTTP ${res.status}`);
  return res.json();
}

async function main() {
  if (!LOAD) fail('GRANTLINE_LOAD_URL is not set: run under tests/interop/servers.sh run -- ...');
  for (const [n, url] of Object.entries(INTEROP)) if (!url) fail(`GRANTLINE_${n}_URL is not set: run under tests/interop/servers.sh run -- ...`);
  tmp = mkdtempSync(path.join(tmpdir(), 'grantline-workerd-'));
  const { date, files, graph } = writeConfig(tmp);
  const t0 = Date.now();
  const port = await startWorkerd(tmp);
  const startup = Date.now() - t0;
  const base = `http://127.0.0.1:${port}`;
  const problems = [];

  // 1. Every shared vector.
  const total = files.reduce((n, f) => n + JSON.parse(readFileSync(path.join(VECTORS, f), 'utf8')).vectors.length, 0);
  const v = await get(base, '/vectors');
  if (v.failures.length) problems.push(`${v.failures.length} vectors failed:\n  ${v.failures.join('\n  ')}`);
  if (v.passed !== total) problems.push(`${v.passed} vectors passed of ${total}`);

  // 2. The Worker's checks against the load server.
  const checks = await get(base, '/checks');
  for (const c of checks) if (!c.ok) problems.push(`check failed: ${c.name}\n  ${c.detail}`);

  // 2b. Interop with oidc-provider, Authlib and oauth2-mock-server through the Worker's fetch.
  const interop = await get(base, '/interop');
  for (const c of interop) if (!c.ok) problems.push(`interop check failed: ${c.name}\n  ${c.detail}`);

  // 3. One session across concurrent requests (module scope): one token request for all.
  await loadAdmin('reset', { lifetime: 60, fail_rate: 0, delay: 0.2 });
  const wave = () => Promise.all(Array.from({ length: SHARED_CALLERS }, () => get(base, '/shared')));
  try {
    const answers = [...await wave(), ...await wave()];
    const digests = new Set(answers.map((r) => r.token));
    const requests = (await loadAdmin('stats')).token_requests;
    if (digests.size !== 1 || requests !== 1) {
      problems.push(`a session shared by ${SHARED_CALLERS} concurrent requests (twice): ${digests.size} tokens, ${requests} token requests (expected 1 and 1)`);
    }
  } catch (e) {
    problems.push(`a session shared by concurrent requests: ${e.expected ? e.message : e.stack}`);
  }

  // 4. The request that started the shared session's renewal is dropped by its client while
  //    the renewal runs: the requests waiting on it still get its token, one token request.
  await loadAdmin('reset', { lifetime: 60, fail_rate: 0, delay: 0.5 });
  try {
    const dropped = new AbortController();
    const starter = fetch(`${base}/shared?new`, { signal: dropped.signal }).then(() => 'answered', () => 'dropped');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const waiting = Array.from({ length: 3 }, () => get(base, '/shared'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    dropped.abort();
    const answers = await Promise.all(waiting);
    const requests = (await loadAdmin('stats')).token_requests;
    if (await starter !== 'dropped') problems.push('the first /shared request was answered before it was dropped (the load server was too fast)');
    if (new Set(answers.map((r) => r.token)).size !== 1 || requests !== 1) {
      problems.push(`the renewing request dropped: ${new Set(answers.map((r) => r.token)).size} tokens, ${requests} token requests (expected 1 and 1)`);
    }
  } catch (e) {
    problems.push(`the renewing request dropped: ${e.expected ? e.message : e.stack}`);
  }

  const name = `workerd ${date}`;
  if (problems.length) fail(`${name}: ${problems.join('\n')}`);
  console.log(`${name}: ${v.passed} vectors passed; ${checks.length} checks against the load server and ${interop.length} interop checks (oidc-provider, Authlib, oauth2-mock-server) passed through the Worker's fetch; `
    + `1 token request for ${2 * SHARED_CALLERS} concurrent requests over a module-scope session (also with the renewing request dropped); `
    + `${graph.size} package modules, listening after ${startup} ms (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

const watchdog = setTimeout(() => {
  console.error(`workerd run: no result within ${WATCHDOG_MS / 1000} s`);
  if (child) child.kill('SIGKILL');
  process.exit(1);
}, WATCHDOG_MS);
if (process.env.GRANTLINE_WORKERD_LOG) process.on('exit', () => console.error(log));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { if (child) child.kill('SIGKILL'); process.exit(1); });

let status = 0;
try {
  await main();
} catch (e) {
  status = 1;
  console.error(e.expected ? e.message : e.stack);
  if (log.trim()) console.error(`--- workerd's output:\n${log.trimEnd()}`);
} finally {
  await stopWorkerd();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exitCode = status;
