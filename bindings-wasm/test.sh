#!/usr/bin/env bash
# `make js`: builds the npm package and runs every JavaScript-side suite:
#   - wasm-bindgen-test in Node (the binding's Rust side) and in headless Chromium (the
#     sans-IO layer and one grant over the browser's fetch against a loopback server);
#   - `node --test` on the built package as a user imports it (`import ... from 'grantline'`,
#     and `require('grantline')`): every shared vector, the convenient layer against the interop
#     servers, the transport against the hostile server, the session's liveness rules with a
#     fake clock, `{ signal, timeout }` on every network call, the classes as redacted data
#     (also in headless Chromium through chromedriver, the browser entry as a page loads it),
#     the packed files (one .wasm); shared sessions (issue 12) over an in-memory store, and
#     over the real Redis of servers.sh with grantline/redis (fleet-redis.test.mjs, which also
#     runs two tests/fleet_worker.mjs processes, the Node worker of tests/fleet/fleet.py);
#   - then the package in the other runtimes (runtimes/run.sh, binaries from
#     `scripts/tools.sh runtimes`): `deno test` and `bun test` on the vector, session, interop,
#     OpenID Connect, abort, hostile, data and fleet suites as each runtime imports the package
#     (Deno's `deno` condition, Bun's `node`), and a real Worker in workerd (runtimes/workerd.mjs:
#     the package's `workerd` entry and its .wasm as modules, every vector, a token obtained and
#     renewed through the Worker's fetch against the load server, one session shared by
#     concurrent requests). The three at once, about 15 s.
# `bindings-wasm/test.sh bench` runs the benchmark against oauth4webapi instead.
# `bindings-wasm/test.sh load` runs the faults-under-load driver (bench/load.mjs) against the
# load server: under `tests/interop/servers.sh run` (it starts one itself when
# GRANTLINE_LOAD_URL is unset). Not part of `make test`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SERVERS="$ROOT/tests/interop/servers.sh"
STAMP="$HERE/node_modules/.dev-stamp"

if [[ "${1:-}" == load && -z "${GRANTLINE_LOAD_URL:-}" ]]; then
  exec "$SERVERS" run -- "$HERE/test.sh" load
fi

# (`suites` runs inside this script's own run, under servers.sh, once the package is built.)
[[ "${1:-}" == suites ]] || "$HERE/build.sh"

# Dev dependencies (oauth4webapi, for the benchmark), and the built package linked in as
# `grantline`, so the tests import it by name through its `exports`.
if [[ ! -f "$STAMP" || "$HERE/package-lock.json" -nt "$STAMP" ]]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$STAMP"
fi
ln -sfn ../../target/npm/grantline "$HERE/node_modules/grantline"
mkdir -p "$ROOT/examples/js/node_modules"
ln -sfn ../../../target/npm/grantline "$ROOT/examples/js/node_modules/grantline"

if [[ "${1:-}" == bench ]]; then
  exec node "$HERE/bench/bench.mjs"
fi

if [[ "${1:-}" == load ]]; then
  exec node "$HERE/bench/load.mjs"
fi

if [[ "${1:-}" == suites ]]; then   # under servers.sh run (below)
  cd "$HERE"   # wasm-bindgen-test-runner reads webdriver.json (headless Chromium flags) here
  log="$ROOT/target/js-wasm-test.log"
  # Not -q: cargo would pass --quiet to the runner, which refuses it.
  if ! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$ROOT/.tools/bin/wasm-bindgen-test-runner" \
      cargo test -p grantline-wasm --target wasm32-unknown-unknown >"$log" 2>&1; then
    cat "$log" >&2
    echo "js: wasm-bindgen-test failed" >&2
    exit 1
  fi
  grep -E "^(test |test result)" "$log"
  # Four test files at a time: they mostly wait (deadlines, servers, other processes): 85 s
  # one file after the other, about 25 s so. Only fleet-redis.test.mjs resets the load server.
  node --test --test-concurrency=4 tests/
  # After node --test (the Worker resets the load server, which no other suite may share).
  exec "$HERE/runtimes/run.sh" all
fi

# The wasm32-only code is linted here; `make lint` covers the host. (On the host, the
# #[wasm_bindgen_test] functions of tests/browser.rs and tests/node.rs are not compiled at all.)
cargo clippy --quiet -p grantline-wasm --target wasm32-unknown-unknown --all-targets -- -D warnings

"$ROOT/scripts/tools.sh" chromium
"$ROOT/scripts/tools.sh" runtimes >/dev/null
"$SERVERS" run -- "$HERE/test.sh" suites
echo "js: all suites passed"
