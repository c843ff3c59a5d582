#!/usr/bin/env bash
# Builds the grantline uniffi library and generates its Kotlin and Swift sources from it.
#
#   bindings-uniffi/generate.sh [debug|release]     (default: debug)
#
# Outputs (all ignored by git):
#   target/<profile>/libgrantline_uniffi.so (.dylib on macOS)   the native library
#   target/uniffi/<profile>/kotlin/grantline/grantline.kt        Kotlin package `grantline`
#   target/uniffi/<profile>/swift/{Grantline.swift,GrantlineFFI.h,GrantlineFFI.modulemap}
#   bindings-uniffi/swift/Sources/...                            the Swift package's generated files
# The uniffi-bindgen binary is this workspace's own (`--features cli`), so its version always
# matches the library's uniffi.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PROFILE="${1:-debug}"
cd "$ROOT"

case "$PROFILE" in
  debug) CARGO_PROFILE=() ;;
  release) CARGO_PROFILE=(--release) ;;
  *) echo "usage: $0 [debug|release]" >&2; exit 2 ;;
esac
case "$(uname -s)" in
  Darwin) LIB_EXT=dylib ;;
  *) LIB_EXT=so ;;
esac

# The bindgen first (it builds the library with the `cli` feature), then the library alone, so
# that target/<profile>/libgrantline_uniffi.<ext> is the plain one.
cargo build --quiet -p grantline-uniffi --features cli --bin uniffi-bindgen
cargo build --quiet "${CARGO_PROFILE[@]}" -p grantline-uniffi --lib
LIB="$ROOT/target/$PROFILE/libgrantline_uniffi.$LIB_EXT"
[[ -f "$LIB" ]] || { echo "generate: $LIB was not built" >&2; exit 1; }

OUT="$ROOT/target/uniffi/$PROFILE"
rm -rf "$OUT/kotlin" "$OUT/swift"
mkdir -p "$OUT/kotlin" "$OUT/swift"
# --no-format: no ktlint or swiftformat here. The config (package and module names) is
# bindings-uniffi/uniffi.toml, found through cargo metadata.
"$ROOT/target/debug/uniffi-bindgen" generate --library "$LIB" --language kotlin --out-dir "$OUT/kotlin" --no-format
"$ROOT/target/debug/uniffi-bindgen" generate --library "$LIB" --language swift --out-dir "$OUT/swift" --no-format

# The Swift package (bindings-uniffi/swift) takes the generated files where SwiftPM wants them.
PKG="$HERE/swift/Sources"
mkdir -p "$PKG/Grantline" "$PKG/GrantlineFFI/include"
cp "$OUT/swift/Grantline.swift" "$PKG/Grantline/Grantline.swift"
cp "$OUT/swift/GrantlineFFI.h" "$PKG/GrantlineFFI/include/GrantlineFFI.h"
cp "$OUT/swift/GrantlineFFI.modulemap" "$PKG/GrantlineFFI/include/module.modulemap"

echo "generate: $LIB -> $OUT/{kotlin,swift} and bindings-uniffi/swift/Sources" >&2
