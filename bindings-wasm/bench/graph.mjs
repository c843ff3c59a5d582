// The files an entry point of the built package loads: the entry and every module it imports,
// statically, transitively (relative specifiers only: `node:` built-ins are the runtime's), and
// the .wasm. Used by bench/size.mjs (what one runtime loads, what a Worker uploads) and by
// bench/cold.mjs (the modules of a workerd config).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// `import ... from "x"`, `export ... from "x"`, `import "x"` (minified or not), `require("x")`, and
// `new URL("x", import.meta.url)` (the .wasm the Node and browser entries read).
const SPECIFIERS = [
  /\b(?:from|import)\s*["'](\.{1,2}\/[^"']+)["']/g,
  /\brequire\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  /new URL\(\s*["'](\.{1,2}\/[^"']+)["']\s*,\s*import\.meta\.url\s*\)/g,
];

/** Paths relative to `root` of `entry` (relative to `root`) and every file it loads, sorted. */
export function moduleClosure(root, entry) {
  const seen = new Set();
  const todo = [resolve(root, entry)];
  while (todo.length > 0) {
    const file = todo.pop();
    if (seen.has(file)) continue;
    if (!existsSync(file)) throw new Error(`graph: ${relative(root, file)} is imported but missing`);
    seen.add(file);
    if (!/\.(m?js|cjs)$/.test(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const re of SPECIFIERS) {
      for (const m of text.matchAll(re)) todo.push(join(dirname(file), m[1]));
    }
  }
  return [...seen].map((f) => relative(root, f)).sort();
}
