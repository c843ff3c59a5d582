// Node 20+ (and Bun): reads the WebAssembly next to this file synchronously, then
// re-exports the API. `require('grantline')` loads this very module too (node.cjs).
import { readFileSync } from 'node:fs';
import * as core from './grantline_core.js';
import { prepare } from './support.js';

core.initSync({ module: readFileSync(new URL('./grantline_bg.wasm', import.meta.url)) });
prepare(core);

export * from './grantline_core.js';
export * from './errors.js';
