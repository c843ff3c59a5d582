// Node 18+ (and Bun): reads the WebAssembly next to this file synchronously, then
// re-exports the API.
import { readFileSync } from 'node:fs';
import { initSync } from './grantline_core.js';

initSync({ module: readFileSync(new URL('./grantline_bg.wasm', import.meta.url)) });

export * from './grantline_core.js';
export * from './errors.js';
