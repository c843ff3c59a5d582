#!/usr/bin/env bash
# Project-local tools for the bindings, installed idempotently into ignored folders.
#
#   scripts/tools.sh wasm-bindgen   wasm-bindgen-cli matching Cargo.lock's wasm-bindgen, into .tools/bin
#   scripts/tools.sh npm            binaryen (wasm-opt), esbuild (minifies the npm package's JavaScript)
#                                   and kotlin-compiler from npm, into .tools/node_modules
#   scripts/tools.sh jna            Debian's libjna-java (/usr/share/java/jna.jar), via apt-get
#   scripts/tools.sh chromium       Debian's chromium and chromium-driver, via apt-get
#   scripts/tools.sh redis          Debian's redis-server (redis-server, redis-cli), via apt-get
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
    say "cargo install wasm-bindgen-cli $want into .tools (about 3 minutes on 2 cores)"
    # Not --locked: the CLI's own lockfile pins crates newer than the registry mirror has.
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
  all) tool_wasm_bindgen; tool_npm; tool_jna; tool_chromium; tool_redis ;;
  *) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
