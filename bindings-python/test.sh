#!/usr/bin/env bash
# The Python binding's one command (`make python`): installs its dev dependencies into the
# project's .venv (idempotent, stamped), builds the extension into it with maturin, checks the
# stubs against the compiled module (mypy stubtest) and the pure-Python modules and examples
# (mypy --strict), runs every pytest suite with the interop servers up, builds the release abi3
# wheel and smoke-tests it in a fresh venv under target/.
#
#   bindings-python/test.sh          everything above
#   bindings-python/test.sh build    only the dev venv and the extension (for `make demo`)
#   bindings-python/test.sh bench    the benchmark (grantline vs oauthlib, import time, cached token)
#   bindings-python/test.sh load     faults under load (tests/load.py): many threads, then many asyncio
#                                    tasks, sharing one session against GRANTLINE_LOAD_URL; run it as
#                                    `tests/interop/servers.sh run -- bindings-python/test.sh load`
#                                    (extra arguments go to the script: --seconds, --threads, --tasks...)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$root/.venv"
py="$venv/bin/python"
cd "$root"

say() { printf 'python: %s\n' "$*"; }

# maturin, quiet when it works, its whole output when it fails.
maturin_run() {
  local log
  log="$(mktemp)"
  if ! (cd "$here" && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin "$@" >"$log" 2>&1); then
    cat "$log" >&2
    rm -f "$log"
    echo "python: maturin $* failed" >&2
    exit 1
  fi
  rm -f "$log"
}

# 1. The venv (created by the interop harness, which also installs the servers) and the dev
#    dependencies, reinstalled only when requirements-dev.txt or the Python version changes.
tests/interop/servers.sh install
stamp="$venv/.grantline-python-dev-stamp"
want="$( { cat "$here/requirements-dev.txt"; "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  say "installing dev dependencies into .venv"
  "$py" -m pip install --quiet --disable-pip-version-check -r "$here/requirements-dev.txt"
  echo "$want" > "$stamp"
fi

# 2. Build the extension (release: the tests and the benchmark run what users get).
say "maturin develop --release"
maturin_run develop --release
"$py" -c 'import grantline._grantline' # fail here, clearly, if the build did not install

if [[ "${1:-}" == "build" ]]; then
  exit 0
fi
if [[ "${1:-}" == "bench" ]]; then
  exec "$py" "$here/bench/bench.py"
fi
if [[ "${1:-}" == "load" ]]; then
  if [[ -z "${GRANTLINE_LOAD_URL:-}" ]]; then
    echo "python: GRANTLINE_LOAD_URL is not set: run tests/interop/servers.sh run -- bindings-python/test.sh load" >&2
    exit 2
  fi
  say "load (tests/load.py)"
  exec "$py" "$here/tests/load.py" "${@:2}"
fi

# 3. Types: the stubs against the compiled module; the pure-Python modules and the examples.
say "stubtest grantline._grantline"
(cd "$here/python" && "$py" -m mypy.stubtest grantline._grantline)
say "mypy --strict (package, examples)"
(cd "$here/python" && "$py" -m mypy --strict --no-error-summary -p grantline \
  && MYPYPATH="$here/python" "$py" -m mypy --strict --no-error-summary "$root"/examples/python/*.py)

# 4. Every suite, with the interop servers up (they are always stopped afterwards). Four pytest
#    workers, a file each at a time (pytest-xdist, --dist loadfile): the suites mostly wait
#    (deadlines, device-flow intervals, other processes), 100 s in one process, about 35 s so.
#    No two files share server-side state (only test_fleet_redis.py resets the load server).
say "pytest (vectors, API, liveness, cancellation, transports, adapters, lifecycle, logging, hostile, interop, sessions, fleet, fleet on Redis, examples, README)"
set +e
tests/interop/servers.sh run -- "$py" -m pytest -q -p no:cacheprovider -n 4 --dist loadfile --rootdir "$here" "$here/tests"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "python: pytest collected no test" >&2
  exit 1
elif [[ $status -ne 0 ]]; then
  exit $status
fi

# 5. The release wheel: abi3, installs into a fresh venv, imports and works without a network.
say "maturin build --release"
wheels="$root/target/python-wheels"
rm -rf "$wheels"
maturin_run build --release --out "$wheels"
wheel="$(ls "$wheels"/grantline-*-cp39-abi3-*.whl)"
smoke="$root/target/python-smoke-venv"
[[ -x "$smoke/bin/python" ]] || python3 -m venv "$smoke"
"$smoke/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --force-reinstall "$wheel"
say "smoke test of $(basename "$wheel")"
(cd "$root/target" && "$smoke/bin/python" "$here/tests/smoke.py")
say "all passed"
