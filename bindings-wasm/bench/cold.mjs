// Cold start, in fresh processes (`make bench`; run after bindings-wasm/test.sh bench, which builds
// and links the package): the package's import plus its first client (`Provider.custom` +
// `new Client`) against oauth4webapi's import (alone, and with its first client objects), in the
// same run, interleaved, COLD_RUNS (20) fresh processes each; median and min. Prints figures and
// the budget's verdict (grantline's import + first client, in Node, at most 2x oauth4webapi's
// import); nothing here fails on a timing.
//
// Node, Deno and Bun (bench/cold-child.mjs in a fresh process, `grantline` resolved through the
// runtime's export conditions): inside the process, performance.now() around the dynamic import
// (and the first client); outside, the whole process's wall time, spawn to exit, beside the
// runtime's own start (a process that imports nothing).
//
// workerd: performance.now() and Date.now() stand still while a Worker's script runs (they
// advance only with I/O), so a Worker cannot time its own start. Measured from outside instead:
// a fresh `workerd serve` of a config with one Worker (the package's workerd.js entry and its
// modules, the .wasm as a WebAssembly module, a first client made at the top level, as a Worker
// does), from spawn to its first HTTP answer on 127.0.0.1. workerd evaluates a Worker's modules
// before it listens, so that span holds the Worker's start; the same for a Worker that imports
// nothing and one that imports oauth4webapi (its build/index.js as a module), and the difference
// is the start the import costs. Runtimes come from .tools/runtimes (scripts/tools.sh runtimes);
// one that is missing is skipped, said so.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleClosure } from './graph.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WASM_DIR = resolve(HERE, '..');
const ROOT = resolve(WASM_DIR, '..');
const PKG = realpathSync(join(WASM_DIR, 'node_modules/grantline'));
const OAUTH = realpathSync(join(WASM_DIR, 'node_modules/oauth4webapi'));
const BIN = join(ROOT, '.tools/runtimes/bin');
const RUNS = Number(process.env.COLD_RUNS || 20);
const CHILD = join(HERE, 'cold-child.mjs');
// A fresh process that has not answered in this long is a failure (never a hang).
const LIMIT_MS = 30_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${x.toFixed(1).padStart(6)} ms`;
const stat = (xs) => `median ${ms(median(xs))}, min ${ms(Math.min(...xs))}`;

// ---------------------------------------------------------------- Node, Deno and Bun
const runtimes = [
  { name: 'node', cmd: process.execPath, args: [] },
  { name: 'deno', cmd: join(BIN, 'deno'), args: ['run', '--allow-read', '--no-lock', '--quiet'] },
  { name: 'bun', cmd: join(BIN, 'bun'), args: [] },
];
const CASES = ['empty', 'oauth4webapi', 'grantline'];

function once(rt, which) {
  const start = process.hrtime.bigint();
  const r = spawnSync(rt.cmd, [...rt.args, CHILD, which], { cwd: WASM_DIR, encoding: 'utf8', timeout: LIMIT_MS, killSignal: 'SIGKILL' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`cold: ${rt.name} ${which} failed (${r.error ? r.error.message : `exit ${r.status}`}): ${(r.stderr || '').slice(0, 400)}`);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), wall };
}

function processRuntimes() {
  const present = runtimes.filter((rt) => {
    if (rt.name === 'node' || existsSync(rt.cmd)) return true;
    console.log(`${rt.name}: skipped (not installed: scripts/tools.sh runtimes)`);
    return false;
  });
  const results = new Map(present.map((rt) => [rt.name, Object.fromEntries(CASES.map((c) => [c, []]))]));
  for (const rt of present) once(rt, 'grantline'); // file-system caches warm for every case
  for (let i = 0; i < RUNS; i += 1) {
    for (const rt of present) for (const c of CASES) results.get(rt.name)[c].push(once(rt, c));
  }
  const verdicts = [];
  for (const rt of present) {
    const r = results.get(rt.name);
    const version = spawnSync(rt.cmd, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].trim();
    console.log(`\n${rt.name} (${version}), ${RUNS} fresh processes each:`);
    const pick = (c, k) => r[c].map((x) => x[k]);
    const row = (label, c, k) => console.log(`  ${label.padEnd(44)}${stat(pick(c, k))}`);
    row('oauth4webapi import', 'oauth4webapi', 'import');
    row('oauth4webapi import + first client objects', 'oauth4webapi', 'first');
    row('grantline import', 'grantline', 'import');
    row('grantline import + first client', 'grantline', 'first');
    console.log(`  whole process (spawn to exit): nothing ${ms(median(pick('empty', 'wall')))}, oauth4webapi ${ms(median(pick('oauth4webapi', 'wall')))}, grantline ${ms(median(pick('grantline', 'wall')))} (medians)`);
    const ratio = median(pick('grantline', 'first')) / median(pick('oauth4webapi', 'import'));
    verdicts.push([rt.name, ratio]);
    console.log(`  grantline import + first client / oauth4webapi import = ${ratio.toFixed(1)}x (medians)`);
  }
  return verdicts;
}

// ---------------------------------------------------------------- workerd
const ISSUER = 'https://as.example.com';
const WORKERS = {
  empty: 'export default { fetch() { return new Response("ok"); } };\n',
  oauth4webapi: `import * as oauth from './oauth4webapi/index.js';
const as = { issuer: '${ISSUER}', token_endpoint: '${ISSUER}/oauth/token' };
const client = { client_id: 'bench-client' };
const auth = oauth.ClientSecretBasic('bench-secret');
export default { fetch() { return new Response(typeof auth + as.issuer + client.client_id); } };
`,
  grantline: `import * as g from './grantline/workerd.js';
const provider = g.Provider.custom({ issuer: '${ISSUER}', tokenEndpoint: '${ISSUER}/oauth/token', grants: ['client_credentials'] });
const client = new g.Client(provider, 'bench-client', { clientSecret: 'bench-secret' });
export default { fetch() { return new Response(typeof client.clientCredentials); } };
`,
};

// A workerd config for one Worker: its script and `modules` (name -> file), in `dir`.
function workerConfig(dir, which) {
  const modules = [['worker.js', 'worker.js']];
  writeFileSync(join(dir, 'worker.js'), WORKERS[which]);
  const copy = (root, entry, prefix) => {
    for (const f of moduleClosure(root, entry)) {
      mkdirSync(dirname(join(dir, prefix, f)), { recursive: true });
      cpSync(join(root, f), join(dir, prefix, f));
      modules.push([`${prefix}/${f}`, `${prefix}/${f}`]);
    }
  };
  if (which === 'grantline') copy(PKG, 'workerd.js', 'grantline');
  if (which === 'oauth4webapi') copy(join(OAUTH, 'build'), 'index.js', 'oauth4webapi');
  const list = modules.map(([name, file]) => `    (name = "${name}", ${file.endsWith('.wasm') ? 'wasm' : 'esModule'} = embed "${file}"),`).join('\n');
  writeFileSync(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [
${list}
  ],
  compatibilityDate = "2025-01-01",
);
`);
  return join(dir, 'config.capnp');
}

const get = (port) => new Promise((resolveGet, reject) => {
  const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? resolveGet() : reject(new Error(`workerd answered ${res.statusCode}`))));
  });
  req.on('error', reject);
  req.end();
});

// One fresh workerd: milliseconds from spawn to listening (the Worker evaluated) and to its first
// answer. The process is stopped (SIGKILL if SIGTERM is not enough) before this resolves.
function workerdOnce(config) {
  return new Promise((resolveRun, reject) => {
    const start = performance.now();
    const child = spawn(join(BIN, 'workerd'), ['serve', config, '--control-fd', '3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let control = '';
    let result;
    let failure;
    const kill = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS + 2000);
    const limit = setTimeout(() => { failure = new Error(`workerd: no answer within ${LIMIT_MS} ms`); child.kill('SIGKILL'); }, LIMIT_MS);
    const stop = () => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    };
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', (e) => { failure = e; });
    child.on('exit', () => {
      clearTimeout(kill);
      clearTimeout(limit);
      if (result) resolveRun(result);
      else reject(failure || new Error(`workerd exited before answering: ${stderr.slice(0, 400)}`));
    });
    child.stdio[3].on('data', (d) => {
      control += d;
      const m = /"port":(\d+)/.exec(control);
      if (!m || result || failure) return;
      const listening = performance.now() - start;
      control = '';
      get(Number(m[1])).then(
        () => { result = { listening, answer: performance.now() - start }; stop(); },
        (e) => { failure = e; stop(); },
      );
    });
  });
}

async function workerd() {
  if (!existsSync(join(BIN, 'workerd'))) {
    console.log('\nworkerd: skipped (not installed: scripts/tools.sh runtimes)');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'grantline-cold-'));
  try {
    const configs = {};
    for (const which of CASES) {
      mkdirSync(join(dir, which));
      configs[which] = workerConfig(join(dir, which), which);
    }
    await workerdOnce(configs.grantline);
    const runs = Object.fromEntries(CASES.map((c) => [c, []]));
    for (let i = 0; i < RUNS; i += 1) for (const c of CASES) runs[c].push(await workerdOnce(configs[c]));
    const version = spawnSync(join(BIN, 'workerd'), ['--version'], { encoding: 'utf8' }).stdout.trim();
    console.log(`\nworkerd (${version}), ${RUNS} fresh processes each, spawn to the first answer of a Worker:`);
    const answer = (c) => runs[c].map((r) => r.answer);
    for (const c of CASES) {
      console.log(`  ${(c === 'empty' ? 'a Worker importing nothing' : `a Worker importing ${c}`).padEnd(44)}${stat(answer(c))} (listening after ${ms(median(runs[c].map((r) => r.listening)))})`);
    }
    // What the import adds to a Worker's start: over the empty Worker's, by medians and by
    // minimums (the least disturbed runs).
    const over = (c, f) => f(answer(c)) - f(answer('empty'));
    const min = (xs) => Math.min(...xs);
    console.log(`  what the import adds to the start (over the empty Worker's, medians / minimums): grantline + first client ${ms(over('grantline', median))} / ${ms(over('grantline', min))}, oauth4webapi ${ms(over('oauth4webapi', median))} / ${ms(over('oauth4webapi', min))}`);
    const o = over('oauth4webapi', median);
    // Below a millisecond, oauth4webapi's share is within the noise of a process start: no ratio.
    return o >= 1 ? over('grantline', median) / o : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`cold start: grantline (${PKG}) against oauth4webapi ${JSON.parse(readFileSync(join(OAUTH, 'package.json'), 'utf8')).version}`);
const verdicts = processRuntimes();
const w = await workerd();
const node = verdicts.find(([n]) => n === 'node')[1];
console.log(`\nbudget (cold start): Node, grantline import + first client at most 2x oauth4webapi's import: ${node.toFixed(1)}x -> ${node <= 2 ? 'within budget' : 'OVER budget'}`);
console.log(`  (the same ratio: ${verdicts.filter(([n]) => n !== 'node').map(([n, r]) => `${n} ${r.toFixed(1)}x`).join(', ')}${w === undefined ? '' : `, workerd (what each adds to a Worker's start) ${w.toFixed(1)}x`})`);
