#!/usr/bin/env bash
# Size report of the npm package (after bindings-wasm/build.sh): each code file raw and gzipped
# (-9), the total, the `npm pack` tarball (unpacked and packed; it must hold one .wasm); then
# (bench/size.mjs) the package's code against oauth4webapi's published code and the size budget,
# what each entry point loads, and what a Cloudflare Worker uploads; and, with `--crates`, where
# the WebAssembly's bytes go per crate (twiggy, installed into .tools on first use; it reads the
# names section of the pre-wasm-opt module). Figures only: no size fails the run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/target/npm/grantline"
[[ -f "$PKG/grantline_bg.wasm" ]] || { echo "size: build the package first (bindings-wasm/build.sh)" >&2; exit 1; }
total_raw=0 total_gz=0
printf '%-60s %9s %9s\n' file bytes gzipped
while IFS= read -r f; do
  raw=$(wc -c <"$f"); gz=$(gzip -9c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '%-60s %9d %9d\n' "${f#"$PKG/"}" "$raw" "$gz"
done < <(find "$PKG" -type f \( -name '*.js' -o -name '*.cjs' -o -name '*.wasm' \) | sort)
printf '%-60s %9d %9d\n' 'total (code: .js + .cjs + .wasm)' "$total_raw" "$total_gz"
# What a user downloads: the tarball `npm pack` makes (gzipped already; README and .d.ts in it).
(cd "$PKG" && npm pack --dry-run --json --ignore-scripts 2>/dev/null) | node -e '
  const [p] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const wasm = p.files.filter((f) => f.path.endsWith(".wasm")).length;
  console.log(`npm pack: ${p.entryCount} files, ${wasm} .wasm`.padEnd(60), String(p.unpackedSize).padStart(9), String(p.size).padStart(9));
  if (wasm !== 1) { console.error("size: the package must hold exactly one .wasm"); process.exit(1); }'
node "$ROOT/bindings-wasm/bench/size.mjs" "$PKG"
if [[ "${1:-}" == --crates ]]; then
  [[ -x "$ROOT/.tools/bin/twiggy" ]] || cargo install --quiet --root "$ROOT/.tools" twiggy
  named="$(mktemp -d)"
  "$ROOT/.tools/bin/wasm-bindgen" --target web --keep-debug --out-dir "$named" \
    "$ROOT/target/wasm32-unknown-unknown/wasm-release/grantline_wasm.wasm"
  "$ROOT/.tools/bin/twiggy" top -n 1000000 -f csv "$named/grantline_wasm_bg.wasm" | python3 -c '
import csv, re, sys, collections
rows = csv.reader(sys.stdin); next(rows)
size = collections.Counter()
for row in rows:
    m = re.match(r"^[<&\s]*(?:mut\s+)?(?:dyn\s+)?([a-z_0-9]+)(?:\[[0-9a-f]+\])?::", row[0])
    size[m.group(1) if m else row[0][:44]] += int(row[1])
print("\nbefore wasm-opt, by crate (bytes):")
for name, n in size.most_common(14): print(f"{n:9d}  {name}")'
  rm -rf "$named"
fi
