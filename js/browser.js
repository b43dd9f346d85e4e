// Browser entry point (and the default): the wasm (js/variant.js says which build) is
// fetched relative to this module unless `init({ wasm })` or `Model.load(src, { wasm })`
// names a URL, Response, bytes or a compiled WebAssembly.Module. A string source is a URL,
// fetched.
import { createApi, fetchBytes, isBytes, EdgeInferError, predictionId } from './core.js';

// Workers share the memory only where the page is cross-origin isolated (COOP and COEP
// headers); elsewhere there is no SharedArrayBuffer, and one thread.
const isolated = globalThis.crossOriginIsolated === true && typeof Worker === 'function';

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
  threads: isolated && {
    cores: () => navigator.hardwareConcurrency || 1,
    glue: () => import('../dist/edgeinfer_threads.js'),
    /**
     * Starts a team thread on a module Worker (web-thread.js); `lost` is called if it fails
     * once it runs (before, it was never counted as running, and nothing waits for it).
     */
    spawn(workerData, lost) {
      const worker = new Worker(new URL('./web-thread.js', import.meta.url), { type: 'module' });
      let running = false;
      worker.addEventListener('message', () => (running = true), { once: true });
      worker.addEventListener('error', () => running && lost());
      worker.postMessage(workerData);
    },
  },
  readSource(source, options) {
    const base = globalThis.location?.href;
    return fetchBytes(base ? new URL(source, base) : source, options);
  },
});

export const { Model, init, buildReference } = api;
export { EdgeInferError, predictionId };
