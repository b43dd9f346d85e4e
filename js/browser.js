// Browser entry point (and the default): the wasm (js/variant.js says which build) is
// fetched relative to this module unless `init({ wasm })` or `Model.load(src, { wasm })`
// names a URL, Response, bytes or a compiled WebAssembly.Module. A string source is a URL,
// fetched.
import { createApi, fetchBytes, isBytes, EdgeInferError, predictionId } from './core.js';
import { webThreads } from './web-threads.js';

const api = createApi({
  acceptsWasm: (wasm) =>
    wasm instanceof WebAssembly.Module ||
    isBytes(wasm) ||
    wasm instanceof Response ||
    wasm instanceof URL ||
    typeof wasm === 'string',
  wasmForms: 'a WebAssembly.Module, bytes, a Response or a URL in a browser',
  variants: ['relaxed-simd', 'simd128'],
  async startWasm(wasm, { initWasm, file }) {
    // A compiled Module is instantiated asynchronously too: browsers refuse synchronous
    // instances of modules over 8 MB on the main thread. Only the chosen build is fetched.
    await initWasm({ module_or_path: wasm ?? new URL(`../dist/${file}`, import.meta.url) });
  },
  threads: webThreads,
  readSource(source, options) {
    const base = globalThis.location?.href;
    return fetchBytes(base ? new URL(source, base) : source, options);
  },
});

export const { Model, init, buildReference } = api;
export { EdgeInferError, predictionId };
