#!/usr/bin/env bash
# The npm package's suites in the runtimes other than Node and Chromium, as their users import
# it (`import ... from 'grantline'`, through the package's `exports`). Run by
# bindings-wasm/test.sh after `node --test`, under tests/interop/servers.sh run (the loopback
# servers' URLs in the environment); the binaries come from `scripts/tools.sh runtimes`.
#
#   runtimes/run.sh deno      `deno test` (the `deno` condition: index.js) on the node:test files
#                             listed in SUITES, with permissions to read the repository and to
#                             connect to 127.0.0.1 only
#   runtimes/run.sh bun       `bun test` (the `node` condition: node.js) on the same files
#   runtimes/run.sh workerd   a real Worker in workerd (runtimes/workerd.mjs)
#   runtimes/run.sh all       the three at once
#
# SUITES: every shared vector, the session (concurrency, rotation, liveness) with a fake
# clock, the interop servers (oidc-provider, Authlib, oauth2-mock-server: every grant,
# 1,000 concurrent getAccessToken(), rotation reaching onTokens), OpenID Connect and JOSE,
# abort and deadlines, the hostile server (the runtime's fetch), data classes, fleet sessions.
# Not run here: the suites that spawn `node` or tsc, Redis, or check the packed files.
# Each run prints one line of counts; a failure prints the runtime's whole output and exits 1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WASM="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$WASM/.." && pwd)"
BIN="$ROOT/.tools/runtimes/bin"
LOGS="$ROOT/target/runtimes"
SUITES=(vectors session interop oidc-interop oidc api abort hostile data fleet)
TIMEOUT="${GRANTLINE_RUNTIME_TIMEOUT:-120}"   # seconds per runtime (a run takes about 10): never hangs

say() { printf 'runtimes: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ -n "${GRANTLINE_OIDC_URL:-}" ]] || die "run under tests/interop/servers.sh run (GRANTLINE_OIDC_URL is not set)"
[[ -e "$WASM/node_modules/grantline/package.json" ]] || die "the package is not linked as bindings-wasm/node_modules/grantline (bindings-wasm/test.sh does it)"
mkdir -p "$LOGS"

# run NAME LOG DIR CMD...: runs CMD in DIR with a deadline, its output into LOG; on failure
# shows LOG and exits 1. Sets ELAPSED (milliseconds).
run() {
  local name="$1" log="$2" dir="$3" start status=0
  shift 3
  start=$(date +%s%N)
  (cd "$dir" && exec timeout --kill-after=10 "$TIMEOUT" "$@") >"$log" 2>&1 || status=$?
  ELAPSED="$(( ($(date +%s%N) - start) / 1000000 ))"
  if (( status != 0 )); then
    cat "$log" >&2
    (( status == 124 )) && say "$name: no result within $TIMEOUT s"
    die "$name: FAILED (exit $status; log: ${log#"$ROOT/"})"
  fi
}

# entry NAME WANT DIR CMD...: the file CMD prints in DIR (where `grantline` resolves) must be
# the package's WANT.
entry() {
  local name="$1" want="$2" dir="$3" got
  shift 3
  got="$(cd "$dir" && "$@" 2>&1)" || die "$name: cannot resolve grantline: $got"
  [[ "${got##*/}" == "$want" ]] || die "$name: \`grantline\` resolves to ${got#file://}, expected the package's $want"
}

seconds() { printf '%d.%d s' "$(( ELAPSED / 1000 ))" "$(( ELAPSED % 1000 / 100 ))"; }

vectors_passed() {  # the runner's own line, e.g. "vectors: 724 passed, 0 failed"
  local n
  n="$(sed -n 's/.*vectors: \([0-9][0-9]*\) passed, 0 failed.*/\1/p' "$1" | head -n1)"
  [[ -n "$n" && "$n" -gt 0 ]] || { cat "$1" >&2; die "$2: no vector count in its output"; }
  printf '%s' "$n"
}

run_deno() {
  local deno="$BIN/deno" log="$LOGS/deno.log" version summary s files=()
  [[ -x "$deno" ]] || die "no $deno: run scripts/tools.sh runtimes"
  version="$("$deno" --version | head -n1 | awk '{print $2}')"
  for s in "${SUITES[@]}"; do files+=("tests/$s.test.mjs"); done
  # The `deno` condition, ahead of `node` in the package's exports.
  entry deno index.js "$WASM" env NO_COLOR=1 DENO_NO_UPDATE_CHECK=1 "$deno" eval --no-lock \
    "console.log(import.meta.resolve('grantline'))"
  # --parallel: one worker per core. No lockfile, no type check, no update check; reads the
  # repository (the package, the vectors) and connects to the loopback servers, nothing else.
  run "deno $version" "$log" "$WASM" env NO_COLOR=1 DENO_NO_UPDATE_CHECK=1 GRANTLINE_HOSTILE_DEADLINE_MS=500 \
    "$deno" test --parallel --no-check --no-lock --no-prompt \
    --allow-read="$ROOT" --allow-net=127.0.0.1 --allow-env --allow-sys "${files[@]}"
  summary="$(grep -E '^ok \| [0-9]+ passed' "$log" | tail -n1)"
  [[ "$summary" =~ ^ok\ \|\ ([0-9]+)\ passed(\ \(([0-9]+)\ steps\))?\ \|\ 0\ failed ]] || { cat "$log" >&2; die "deno: no summary line"; }
  echo "deno $version: $(vectors_passed "$log" deno) vectors passed; ${BASH_REMATCH[1]} tests (${BASH_REMATCH[3]:-0} steps) passed in ${#SUITES[@]} files ($(seconds))"
}

run_bun() {
  local bun="$BIN/bun" log="$LOGS/bun.log" version pass fail s files=()
  [[ -x "$bun" ]] || die "no $bun: run scripts/tools.sh runtimes"
  version="$("$bun" --version)"
  for s in "${SUITES[@]}"; do files+=("./$s.test.mjs"); done
  entry bun node.js "$WASM/tests" "$bun" -e "console.log(import.meta.resolve('grantline'))"
  # --parallel: one worker process per core, each file in its own global scope. bun test's
  # default per-test timeout (5 s) is shorter than the device flow's polling.
  run "bun $version" "$log" "$WASM/tests" env NO_COLOR=1 DO_NOT_TRACK=1 GRANTLINE_HOSTILE_DEADLINE_MS=500 \
    "$bun" test --parallel --timeout 60000 "${files[@]}"
  pass="$(sed -n 's/^ *\([0-9][0-9]*\) pass$/\1/p' "$log" | tail -n1)"
  fail="$(sed -n 's/^ *\([0-9][0-9]*\) fail$/\1/p' "$log" | tail -n1)"
  [[ -n "$pass" && "$fail" == 0 ]] || { cat "$log" >&2; die "bun: no summary line"; }
  grep -q "across ${#SUITES[@]} files" "$log" || { cat "$log" >&2; die "bun: not every file ran"; }
  echo "bun $version: $(vectors_passed "$log" bun) vectors passed; $pass tests passed in ${#SUITES[@]} files ($(seconds))"
}

run_workerd() {
  local workerd="$BIN/workerd" log="$LOGS/workerd.log"
  [[ -x "$workerd" ]] || die "no $workerd: run scripts/tools.sh runtimes"
  run workerd "$log" "$WASM" env GRANTLINE_WORKERD="$workerd" node "$HERE/workerd.mjs"
  cat "$log"
}

case "${1:-}" in
  deno) run_deno ;;
  bun) run_bun ;;
  workerd) run_workerd ;;
  all)
    # The three at once (they mostly wait on the servers: about 26 s one after the other), each
    # one's lines printed when it ends, in this order; any failure fails the whole.
    status=0
    pids=()
    for r in deno bun workerd; do
      ("run_$r") >"$LOGS/$r.out" 2>&1 &
      pids+=("$!")
    done
    for i in 0 1 2; do
      wait "${pids[$i]}" || status=1
    done
    cat "$LOGS"/{deno,bun,workerd}.out
    exit "$status"
    ;;
  *) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
