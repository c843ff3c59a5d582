#!/usr/bin/env bash
# Builds the npm package `grantline` into target/npm/grantline (or $1):
# the crate for wasm32 (profile wasm-release), wasm-bindgen (--target web), npm binaryen's
# wasm-opt, esbuild's minifier over every .js file, and the hand-written entry points of npm/ (Node's ES module and its CommonJS door,
# Workers, browsers/Deno), all over the one .wasm; and `grantline/redis` (npm/redis.js, the Redis
# store of shared sessions), a separate entry point the main one never loads.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT="${1:-$ROOT/target/npm/grantline}"
TOOLS="$ROOT/.tools"
WASM="$ROOT/target/wasm32-unknown-unknown/wasm-release/grantline_wasm.wasm"

"$ROOT/scripts/tools.sh" wasm-bindgen
"$ROOT/scripts/tools.sh" npm
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# `cargo rustc --crate-type cdylib`: the crate is also an rlib (for its wasm-bindgen tests),
# and cargo skips LTO for a crate that builds an rlib; this build links the cdylib alone, so
# the profile's `lto = true` applies (about 10% smaller).
#
# With the machine's nightly toolchain (TOOLCHAIN.md; rustup adds its `rust-src`), std is
# rebuilt with the crate (`-Z build-std`), panicking aborts at once (`panic=immediate-abort`)
# and std optimizes for size: about 10% smaller gzipped (the panic messages, their formatting
# and std's location strings go). Nothing a user sees changes: a panic is a bug either way, the
# binding installs no panic hook, and in WebAssembly a panic is a trap (a RuntimeError,
# "unreachable") with or without a message that nobody prints. Without a usable nightly, or with
# GRANTLINE_WASM_STD=stable, the stable toolchain builds it with the prebuilt std.
build_wasm() {
  if [[ "${GRANTLINE_WASM_STD:-nightly}" != stable ]] && rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src' \
      || rustup +nightly component add rust-src >/dev/null 2>&1 || true
    if rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src' \
      && RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort" cargo +nightly rustc --quiet \
        -Z build-std=std,panic_abort -Z build-std-features=optimize_for_size \
        -p grantline-wasm --lib --target wasm32-unknown-unknown --profile wasm-release --crate-type cdylib; then
      echo "build: WebAssembly built by $(rustup run nightly rustc --version) with -Z build-std" >&2
      return
    fi
    echo "build: the nightly build failed or has no rust-src; building with the stable toolchain (about 10% larger)" >&2
  fi
  cargo rustc --quiet -p grantline-wasm --lib --target wasm32-unknown-unknown --profile wasm-release \
    --crate-type cdylib
}
build_wasm

rm -rf "$OUT"
mkdir -p "$OUT"
"$TOOLS/bin/wasm-bindgen" --target web --out-dir "$OUT" --out-name grantline_core "$WASM"
# npm binaryen's wasm-opt (never Debian's 108: it breaks the externref table). The features
# are the ones Rust's wasm32 target enables by default; every supported runtime has them.
"$TOOLS/node_modules/.bin/wasm-opt" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
  --enable-reference-types --enable-sign-ext --enable-multivalue \
  "$OUT/grantline_core_bg.wasm" -o "$OUT/grantline_bg.wasm"
rm "$OUT/grantline_core_bg.wasm" "$OUT/grantline_core_bg.wasm.d.ts"
# The glue loads `grantline_core_bg.wasm` by default; the entry points pass the file instead.
sed -i 's/grantline_core_bg\.wasm/grantline_bg.wasm/g' "$OUT/grantline_core.js"
# wasm-bindgen declares `[Symbol.dispose]()` on every class, which needs TypeScript's `esnext`
# lib; the method stays in the JavaScript (where the runtime has it), the declaration goes, so
# the types check under the usual `es2022` lib.
sed -i '/\[Symbol\.dispose\](): void;/d' "$OUT/grantline_core.d.ts"

# The error classes live in a wasm-bindgen snippet (the Rust side constructs them): re-export
# that very module so `instanceof` works.
support=("$OUT"/snippets/*/js/support.js)
[[ ${#support[@]} == 1 && -f "${support[0]}" ]] || { echo "build: expected one support.js snippet" >&2; exit 1; }
rel="./${support[0]#"$OUT/"}"
cat >"$OUT/errors.js" <<JS
export {
  GrantlineError, OAuthError, MalformedResponseError, ConfigurationError,
  StateMismatchError, ReauthorizationRequiredError, TransportError, TokenValidationError, StoreError,
} from '$rel';
JS
printf "export { prepare } from '%s';\n" "$rel" >"$OUT/support.js"

cp "$HERE"/npm/{index.js,node.js,node.cjs,workerd.js,index.d.ts,errors.d.ts,redis.js,redis.d.ts} "$OUT/"
# Minify the JavaScript in place (esbuild: whitespace, syntax, local names; `--keep-names` keeps
# every class's and function's `.name`): wasm-bindgen's glue carries the Rust doc comments, which
# the .d.ts files keep for editors; minified, the code is a third as large gzipped and parses
# faster, which is most of an isolate's cold start spent outside the WebAssembly.
while IFS= read -r js; do
  "$TOOLS/node_modules/.bin/esbuild" "$js" --minify --keep-names --format=esm --log-level=warning \
    --log-override:duplicate-object-key=silent \
    --outfile="$js" --allow-overwrite
done < <(find "$OUT" -name '*.js' -type f)
cp "$HERE/README.md" "$OUT/README.md"
version="$(awk -F'"' '/^version = / { print $2; exit }' "$ROOT/Cargo.toml")"
sed "s/\"version\": \"0.0.0\"/\"version\": \"$version\"/" "$HERE/npm/package.json" >"$OUT/package.json"
echo "build: npm package in ${OUT#"$ROOT/"}" >&2
