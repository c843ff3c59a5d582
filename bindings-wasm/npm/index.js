// Browsers and Deno (and any runtime with top-level await and fetch of the module's own URL):
// loads the WebAssembly next to this file, then re-exports the API.
import init, { redactRequest } from './grantline_core.js';
import { setRedactor } from './support.js';

await init({ module_or_path: new URL('./grantline_bg.wasm', import.meta.url) });
setRedactor(redactRequest);

export * from './grantline_core.js';
export * from './errors.js';
