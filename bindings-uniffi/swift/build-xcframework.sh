#!/usr/bin/env bash
# Builds GrantlineFFI.xcframework: the Rust library for iOS devices, the iOS simulator (arm64 +
# x86_64) and macOS (arm64 + x86_64), as static libraries with the generated C header and module
# map, for an app or a Swift package that depends on it as a binary target. macOS with Xcode only.
#
#   bindings-uniffi/swift/build-xcframework.sh          -> target/uniffi/xcframework/GrantlineFFI.xcframework
#
# Then, in a Swift package (the Grantline Swift sources are bindings-uniffi/swift/Sources/Grantline):
#
#   .binaryTarget(name: "GrantlineFFI", path: "GrantlineFFI.xcframework"),
#   .target(name: "Grantline", dependencies: ["GrantlineFFI"], path: "Sources/Grantline"),
#
# Needs: Xcode (xcodebuild, lipo), rustup with the five Apple targets (added here when missing).
# Not run on this project's Linux machines: no Xcode there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
say() { printf 'xcframework: %s\n' "$*" >&2; }

[[ "$(uname -s)" == Darwin ]] || { say "needs macOS with Xcode (xcodebuild, lipo)"; exit 2; }
for tool in xcodebuild lipo rustup cargo; do
  command -v "$tool" >/dev/null || { say "missing $tool"; exit 2; }
done

IOS=aarch64-apple-ios
SIM=(aarch64-apple-ios-sim x86_64-apple-ios)
MAC=(aarch64-apple-darwin x86_64-apple-darwin)
TARGETS=("$IOS" "${SIM[@]}" "${MAC[@]}")
installed="$(rustup target list --installed)"
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed" || { say "rustup target add $t"; rustup target add "$t"; }
done

# The Swift sources and the C header, from this workspace's own bindgen (matching the library).
"$ROOT/bindings-uniffi/generate.sh" release

# The deployment targets of bindings-uniffi/swift/Package.swift.
export IPHONEOS_DEPLOYMENT_TARGET=15.0 MACOSX_DEPLOYMENT_TARGET=12.0
for t in "${TARGETS[@]}"; do
  say "cargo build --release --target $t (staticlib)"
  # The crate's own crate types are cdylib + lib; a static library is asked for here only.
  cargo rustc --quiet --release -p grantline-uniffi --lib --target "$t" --crate-type staticlib
done

OUT="$ROOT/target/uniffi/xcframework"
rm -rf "$OUT"
mkdir -p "$OUT/headers" "$OUT/ios-simulator" "$OUT/macos"
cp "$ROOT/target/uniffi/release/swift/GrantlineFFI.h" "$OUT/headers/"
cp "$ROOT/target/uniffi/release/swift/GrantlineFFI.modulemap" "$OUT/headers/module.modulemap"
lib() { echo "$ROOT/target/$1/release/libgrantline_uniffi.a"; }
lipo -create "$(lib "${SIM[0]}")" "$(lib "${SIM[1]}")" -output "$OUT/ios-simulator/libgrantline_uniffi.a"
lipo -create "$(lib "${MAC[0]}")" "$(lib "${MAC[1]}")" -output "$OUT/macos/libgrantline_uniffi.a"

xcodebuild -create-xcframework \
  -library "$(lib "$IOS")" -headers "$OUT/headers" \
  -library "$OUT/ios-simulator/libgrantline_uniffi.a" -headers "$OUT/headers" \
  -library "$OUT/macos/libgrantline_uniffi.a" -headers "$OUT/headers" \
  -output "$OUT/GrantlineFFI.xcframework"
say "built $OUT/GrantlineFFI.xcframework (with the Swift sources in bindings-uniffi/swift/Sources/Grantline)"
