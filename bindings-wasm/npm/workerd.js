// Cloudflare Workers (the `workerd` export condition): Workers import a .wasm file as a
// compiled WebAssembly.Module and forbid compiling code at run time, so the module is
// instantiated from the import.
import wasm from './grantline_bg.wasm';
import * as core from './grantline_core.js';
import { prepare } from './support.js';

core.initSync({ module: wasm });
prepare(core);

export * from './grantline_core.js';
export * from './errors.js';
