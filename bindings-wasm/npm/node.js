// Node 18+ (and Bun): reads the WebAssembly next to this file synchronously, then
// re-exports the API.
import { readFileSync } from 'node:fs';
import { initSync, redactRequest } from './grantline_core.js';
import { setRedactor } from './support.js';

initSync({ module: readFileSync(new URL('./grantline_bg.wasm', import.meta.url)) });
setRedactor(redactRequest);

export * from './grantline_core.js';
export * from './errors.js';
