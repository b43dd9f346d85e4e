// Cloudflare Workers (workerd) entry point. workerd refuses to compile WebAssembly from bytes
// at run time, so the wasm is imported as a module, which the bundler (wrangler) compiles at
// deploy time, and the `wasm` option takes only a compiled module. A string source is a URL,
// fetched.
import wasmModule from '../dist/edgeinfer_bg.wasm';
import { createApi, fetchBytes, EdgeInferError, predictionId } from './core.js';

const api = createApi({
  acceptsWasm: (wasm) => wasm instanceof WebAssembly.Module,
  wasmForms: 'only a WebAssembly.Module (an imported .wasm) in Cloudflare Workers',
  // One build is imported: two would double the Worker's size against Cloudflare's limit.
  // The relaxed-SIMD one runs too, imported by the Worker and given as the wasm option.
  variants: ['simd128'],
  startWasm(wasm, { initSync }) {
    initSync({ module: wasm ?? wasmModule });
  },
  readSource(source, options) {
    return fetchBytes(source, options);
  },
});

export const { Model, init, buildReference } = api;
export { EdgeInferError, predictionId };
