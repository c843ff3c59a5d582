// Browsers and Deno (and any runtime with top-level await and fetch of the module's own URL):
// loads the WebAssembly next to this file, then re-exports the API.
import * as core from './grantline_core.js';
import { prepare } from './support.js';

await core.default({ module_or_path: new URL('./grantline_bg.wasm', import.meta.url) });
prepare(core);

export * from './grantline_core.js';
export * from './errors.js';
