// Cloudflare Workers (workerd) entry point. workerd refuses to compile WebAssembly from bytes
// at run time, so the wasm is imported as a module, which the bundler (wrangler) compiles at
// deploy time. A string source is a URL, fetched.
import wasmModule from '../dist/edgeinfer_bg.wasm';
import { createApi, fetchBytes, EdgeInferError, predictionId } from './core.js';

const api = createApi({
  startWasm(wasm, { initSync }) {
    initSync({ module: wasm ?? wasmModule });
  },
  readSource(source, options) {
    return fetchBytes(source, options);
  },
});

export const { Model, init, buildReference, __internal, bundleTools } = api;
export { EdgeInferError, predictionId };
