#!/usr/bin/env bash
# Project-local tools for the bindings, installed idempotently into ignored folders.
#
#   scripts/tools.sh wasm-bindgen   wasm-bindgen-cli matching Cargo.lock's wasm-bindgen, into .tools/bin
#   scripts/tools.sh npm            binaryen (wasm-opt), esbuild (minifies the npm package's JavaScript)
#                                   and kotlin-compiler from npm, into .tools/node_modules
#   scripts/tools.sh jna            Debian's libjna-java (/usr/share/java/jna.jar), via apt-get
#   scripts/tools.sh chromium       Debian's chromium and chromium-driver, via apt-get
#   scripts/tools.sh redis          Debian's redis-server (redis-server, redis-cli), via apt-get
#   scripts/tools.sh runtimes       workerd, deno and bun from npm (pinned by scripts/runtimes'
#                                   package-lock.json), into .tools/runtimes; prints
#                                   WORKERD=, DENO=, BUN= (their binaries, .tools/runtimes/bin/*)
#   scripts/tools.sh all            all of the above
#
# Each step is quick when its tool is already there. Paths it prints are the ones to use:
# never Debian's /usr/bin/wasm-opt (binaryen 108 breaks wasm-bindgen's externref table).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BINARYEN_VERSION=132.0.0
KOTLIN_VERSION=2.4.20
ESBUILD_VERSION=0.28.2

say() { printf 'tools: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

lock_version() {  # lock_version CRATE -> the version Cargo.lock pins
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$ROOT/Cargo.lock"
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root for: $* (run it once by hand)"; fi
}

apt_install() {  # apt_install PACKAGE...
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { as_root apt-get update -qq >/dev/null && \
         as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

tool_wasm_bindgen() {
  local want have=""
  want="$(lock_version wasm-bindgen)"
  [[ -n "$want" ]] || die "wasm-bindgen is not in Cargo.lock"
  [[ -x "$TOOLS/bin/wasm-bindgen" ]] && have="$("$TOOLS/bin/wasm-bindgen" --version | awk '{print $2}')"
  if [[ "$have" != "$want" ]]; then
    say "cargo install wasm-bindgen-cli $want into .tools (about 1 minute on 2 cores)"
    # Not --locked: the CLI's own lockfile pins crates newer than the registry mirror has.
    # Unoptimized (opt-level 0): it compiles in 46 s instead of about 3 minutes on 2 cores, and
    # its output is byte for byte the same; it takes 0.7 s instead of 0.15 s on the package's
    # .wasm, and the test runner's run is as long (what a cold `make test` saves: 2 minutes).
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
      cargo install --quiet --root "$TOOLS" wasm-bindgen-cli --version "$want" --force
  fi
}

npm_version() {  # npm_version PACKAGE -> installed version under .tools, or nothing
  local pj="$TOOLS/node_modules/$1/package.json"
  [[ -f "$pj" ]] && node -p "require('$pj').version" 2>/dev/null || true
}

tool_npm() {
  if [[ "$(npm_version binaryen)" != "$BINARYEN_VERSION" || "$(npm_version kotlin-compiler)" != "$KOTLIN_VERSION" \
        || "$(npm_version esbuild)" != "$ESBUILD_VERSION" ]]; then
    say "npm install binaryen@$BINARYEN_VERSION kotlin-compiler@$KOTLIN_VERSION esbuild@$ESBUILD_VERSION into .tools"
    mkdir -p "$TOOLS"
    [[ -f "$TOOLS/package.json" ]] || printf '{ "private": true }\n' >"$TOOLS/package.json"
    npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error \
      "binaryen@$BINARYEN_VERSION" "kotlin-compiler@$KOTLIN_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null
  fi
}

tool_jna() {
  [[ -f /usr/share/java/jna.jar ]] || apt_install libjna-java
}

tool_chromium() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null || apt_install chromium chromium-driver
}

# The fleet tests (issue 12) start their own redis-server on 127.0.0.1; the package's systemd
# service is not used (and does not start in a container).
tool_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
}

# The binaries are the platform packages' own (@cloudflare/workerd-linux-64, @deno/linux-x64-glibc,
# @oven/bun-linux-x64, ...): the wrappers' install scripts may be blocked, and where they run they
# move or link the same file (bun's moves it into bun/bin/bun.exe). The first candidate that
# answers --version is linked as .tools/runtimes/bin/NAME. npm ci runs only when an installed
# version differs from scripts/runtimes/package.json's.
runtime_candidates() {  # runtime_candidates NAME -> paths under node_modules, best first
  local arch
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) arch=x64 ;;
    Linux/aarch64 | Linux/arm64) arch=arm64 ;;
    *) die "runtimes: Linux x64 or arm64 only (this is $(uname -s)/$(uname -m))" ;;
  esac
  case "$1/$arch" in
    workerd/x64) echo "@cloudflare/workerd-linux-64/bin/workerd workerd/bin/workerd" ;;
    workerd/arm64) echo "@cloudflare/workerd-linux-arm64/bin/workerd workerd/bin/workerd" ;;
    deno/*) echo "@deno/linux-$arch-glibc/deno deno/deno" ;;
    bun/x64) echo "@oven/bun-linux-x64/bin/bun bun/bin/bun.exe" ;;
    bun/arm64) echo "@oven/bun-linux-aarch64/bin/bun bun/bin/bun.exe" ;;
  esac
}

tool_runtimes() {
  local dir="$TOOLS/runtimes" spec="$ROOT/scripts/runtimes" name candidate found installed
  # "ok" when every pinned version is the installed one.
  installed="$(SPEC="$spec/package.json" DIR="$dir/node_modules" node -e '
    const { readFileSync } = require("node:fs");
    const pins = JSON.parse(readFileSync(process.env.SPEC, "utf8")).dependencies;
    const have = (n) => { try { return JSON.parse(readFileSync(`${process.env.DIR}/${n}/package.json`, "utf8")).version; } catch { return ""; } };
    console.log(Object.entries(pins).every(([n, v]) => have(n) === v) ? "ok" : "install");')"
  if [[ "$installed" != ok ]]; then
    say "npm ci workerd, deno and bun (scripts/runtimes) into .tools/runtimes (about 350 MB)"
    mkdir -p "$dir"
    rm -rf "$dir/bin"
    cp "$spec/package.json" "$spec/package-lock.json" "$dir/"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
  if [[ "$installed" != ok || ! -x "$dir/bin/workerd" || ! -x "$dir/bin/deno" || ! -x "$dir/bin/bun" ]]; then
    mkdir -p "$dir/bin"
    for name in workerd deno bun; do
      found=""
      for candidate in $(runtime_candidates "$name"); do
        if [[ -x "$dir/node_modules/$candidate" ]] && "$dir/node_modules/$candidate" --version >/dev/null 2>&1; then
          found="$dir/node_modules/$candidate"
          break
        fi
      done
      [[ -n "$found" ]] || die "runtimes: no working $name binary under $dir/node_modules ($(runtime_candidates "$name"))"
      ln -sfn "$found" "$dir/bin/$name"
    done
  fi
  printf 'WORKERD=%s\nDENO=%s\nBUN=%s\n' "$dir/bin/workerd" "$dir/bin/deno" "$dir/bin/bun"
}

mkdir -p "$TOOLS"
# Serialise concurrent runs (two suites installing at once).
exec 9>"$TOOLS/.lock"
command -v flock >/dev/null && flock 9

case "${1:-}" in
  wasm-bindgen) tool_wasm_bindgen ;;
  npm) tool_npm ;;
  jna) tool_jna ;;
  chromium) tool_chromium ;;
  redis) tool_redis ;;
  runtimes) tool_runtimes ;;
  all) tool_wasm_bindgen; tool_npm; tool_jna; tool_chromium; tool_redis; tool_runtimes ;;
  *) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
