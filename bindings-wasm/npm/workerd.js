// Cloudflare Workers (the `workerd` export condition): Workers import a .wasm file as a
// compiled WebAssembly.Module and forbid compiling code at run time, so the module is
// instantiated from the import.
import wasm from './grantline_bg.wasm';
import { initSync } from './grantline_core.js';

initSync({ module: wasm });

export * from './grantline_core.js';
export * from './errors.js';
