#!/usr/bin/env bash
# Fuzz the grantline core: every cargo-fuzz target in core/fuzz/, each for FUZZ_SECONDS.
#
#   scripts/fuzz.sh                 every target, one after the other
#   scripts/fuzz.sh TARGET...       only these
#   scripts/fuzz.sh --list          the target names, one a line
#
# Environment:
#   FUZZ_SECONDS=60      how long each target runs (libFuzzer -max_total_time)
#   FUZZ_JOBS=1          how many targets run at once (1 or 2 on a 2-core machine)
#   FUZZ_SANITIZER=none  cargo fuzz --sanitizer: none (default: the core is #![forbid(unsafe_code)]
#                        and ASan halves the executions), or address, leak...
#   FUZZ_TIMEOUT=30      seconds one input may take before libFuzzer reports it as a hang
#   FUZZ_ARGS=           more libFuzzer flags for every target (e.g. "-max_len=8192")
#
# Installs cargo-fuzz into .tools/ once (TOOLCHAIN.md, pitfall 14), seeds each corpus
# (core/fuzz/corpus/<target>, ignored by git) from tests/vectors/*.json (idempotent: files are
# named by content hash, so a new vector adds its seeds on the next run), builds the targets
# with the installed nightly, runs them, and prints per target: executions, exec/s, coverage
# (cov/ft of libFuzzer's last status line), corpus size and whether it crashed (with the
# artifact to reproduce). Exits non-zero when any target crashed or failed to build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
FUZZ_DIR="$ROOT/core/fuzz"
LOGS="$FUZZ_DIR/target/logs"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_JOBS="${FUZZ_JOBS:-1}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-30}"
FUZZ_ARGS="${FUZZ_ARGS:-}"
export PATH="$TOOLS/bin:$PATH"

say() { printf 'fuzz: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

all_targets() {
  local f
  for f in "$FUZZ_DIR"/fuzz_targets/*.rs; do basename "$f" .rs; done
}

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

targets=()
for arg in "$@"; do
  case "$arg" in
    --list) all_targets; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $arg" ;;
    *) [[ -f "$FUZZ_DIR/fuzz_targets/$arg.rs" ]] || die "no fuzz target named $arg (see --list)"
       targets+=("$arg") ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(all_targets)
[[ "$FUZZ_SECONDS" =~ ^[0-9]+$ && "$FUZZ_SECONDS" -gt 0 ]] || die "FUZZ_SECONDS must be a positive integer"
[[ "$FUZZ_JOBS" =~ ^[0-9]+$ && "$FUZZ_JOBS" -gt 0 ]] || die "FUZZ_JOBS must be a positive integer"

# cargo-fuzz, project-local and idempotent (serialised with scripts/tools.sh's lock).
install_cargo_fuzz() {
  "$TOOLS/bin/cargo-fuzz" --version >/dev/null 2>&1 && return
  mkdir -p "$TOOLS"
  exec 9>"$TOOLS/.lock"
  command -v flock >/dev/null && flock 9
  "$TOOLS/bin/cargo-fuzz" --version >/dev/null 2>&1 && return
  say "cargo install cargo-fuzz into .tools (about a minute on 2 cores)"
  # --locked first; without it if its lockfile pins a crate the registry mirror lacks
  # (as for wasm-bindgen-cli, TOOLCHAIN.md).
  cargo install --quiet --locked --root "$TOOLS" cargo-fuzz \
    || cargo install --quiet --root "$TOOLS" cargo-fuzz
}

rustup toolchain list 2>/dev/null | grep -q '^nightly' \
  || die "cargo fuzz needs a nightly toolchain and none is installed (rustup toolchain list)"
install_cargo_fuzz
command -v python3 >/dev/null || die "python3 is needed to seed the corpora"

python3 "$FUZZ_DIR/seed.py" "$ROOT/tests/vectors" "$FUZZ_DIR/corpus" "${targets[@]}" >&2

FUZZ=(cargo +nightly fuzz)
say "building ${#targets[@]} target(s) (cargo +nightly fuzz build, sanitizer $FUZZ_SANITIZER)"
if [[ ${#targets[@]} -eq $(all_targets | wc -l) ]]; then
  (cd "$ROOT" && "${FUZZ[@]}" build --fuzz-dir "$FUZZ_DIR" -s "$FUZZ_SANITIZER")
else
  for t in "${targets[@]}"; do
    (cd "$ROOT" && "${FUZZ[@]}" build --fuzz-dir "$FUZZ_DIR" -s "$FUZZ_SANITIZER" "$t")
  done
fi

mkdir -p "$LOGS"

run_one() {  # run_one TARGET: fuzz it, its output in $LOGS/TARGET.log
  local t="$1"
  mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/artifacts/$t"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  (cd "$ROOT" && "${FUZZ[@]}" run --fuzz-dir "$FUZZ_DIR" -s "$FUZZ_SANITIZER" "$t" -- \
      -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 $FUZZ_ARGS) \
    >"$LOGS/$t.log" 2>&1
}

summary() {  # summary TARGET EXIT_CODE: one line (plus the panic and artifact when it crashed)
  local t="$1" rc="$2" log="$LOGS/$1.log"
  local runs speed status cov ft corp artifact
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  status="$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$status")"
  ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status")"
  corp="$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$status")"
  if [[ -z "$runs" ]]; then
    runs="$(sed -nE 's/^Done ([0-9]+) runs in.*/\1/p' "$log" | tail -1)"
  fi
  artifact="$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -1)"
  local verdict="no crash"
  if [[ "$rc" != 0 ]]; then
    if [[ -n "$artifact" ]]; then verdict="CRASH: ${artifact#"$ROOT/"}"; else verdict="FAILED (exit $rc, see ${log#"$ROOT/"})"; fi
  fi
  printf '%-18s %12s execs %8s exec/s  cov %-6s ft %-7s corpus %-6s %s\n' \
    "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict"
  if [[ "$rc" != 0 ]]; then
    # The panic message (Rust's, or libFuzzer's own for timeouts and OOM), indented.
    { grep -m1 -A3 -E "panicked at" "$log" \
        || grep -m1 -E "ERROR: libFuzzer|SUMMARY: libFuzzer|error(\[E[0-9]+\])?:" "$log" || true; } \
      | sed 's/^/    /'
    [[ -n "$artifact" ]] && printf '    reproduce: cargo +nightly fuzz run --fuzz-dir core/fuzz -s %s %s %s\n' \
      "$FUZZ_SANITIZER" "$t" "${artifact#"$ROOT/"}"
  fi
  return 0
}

say "running ${#targets[@]} target(s), ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time (logs in ${LOGS#"$ROOT/"})"
failed=()
declare -A pids=()
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

reap() {  # reap: wait for one running target, record its result
  local pid rc=0 t
  wait -n -p pid "${!pids[@]}" || rc=$?
  t="${pids[$pid]}"
  unset "pids[$pid]"
  summary "$t" "$rc" | tee -a "$results"
  [[ "$rc" == 0 ]] || failed+=("$t")
}

for t in "${targets[@]}"; do
  while [[ ${#pids[@]} -ge $FUZZ_JOBS ]]; do reap; done
  say "$t: fuzzing for ${FUZZ_SECONDS}s"
  run_one "$t" &
  pids[$!]="$t"
done
while [[ ${#pids[@]} -gt 0 ]]; do reap; done

echo
echo "fuzz: summary (${FUZZ_SECONDS}s per target)"
sort "$results" | grep -v '^    '
if [[ ${#failed[@]} -gt 0 ]]; then
  say "${#failed[@]} target(s) crashed or failed: ${failed[*]}"
  say "minimise: cargo +nightly fuzz tmin --fuzz-dir core/fuzz -s $FUZZ_SANITIZER TARGET ARTIFACT; then make it a vector (core/fuzz/README.md)"
  exit 1
fi
say "no crash in ${#targets[@]} target(s)"
