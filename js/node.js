// Node entry point: the wasm is read from the package directory; a string source is a file
// path (or an http(s) URL, fetched).
import { readFile } from 'node:fs/promises';
import { createApi, fetchBytes, EdgeInferError, predictionId } from './core.js';

const api = createApi({
  async startWasm(wasm, { initSync }) {
    if (wasm instanceof WebAssembly.Module) return initSync({ module: wasm });
    let bytes = wasm;
    if (wasm === undefined || typeof wasm === 'string' || wasm instanceof URL) {
      bytes = await readFile(wasm ?? new URL('../dist/edgeinfer_bg.wasm', import.meta.url));
    }
    // Compiled off the main thread, then instantiated synchronously: V8's asynchronous
    // instantiation of this module took about 40 ms more (Node 20).
    return initSync({ module: await WebAssembly.compile(bytes) });
  },
  async readSource(source, options) {
    const url = source instanceof URL ? source : /^(https?|file):\/\//.test(source) ? new URL(source) : null;
    if (url && url.protocol !== 'file:') return fetchBytes(url, options);
    try {
      return new Uint8Array(await readFile(url ?? source));
    } catch (e) {
      throw new EdgeInferError('E_MODEL_FETCH', `cannot read the model file ${source}: ${e.message}`, { cause: e });
    }
  },
});

export const { Model, init, buildReference, __internal, bundleTools } = api;
export { EdgeInferError, predictionId };
