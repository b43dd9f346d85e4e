// The Node runtime's API: node.js exports its public part (Model, init, buildReference); the
// command line (cli.js, build.js) also uses its bundle tools, on the same wasm instance. Not
// an export of the package. The wasm is read from the package directory; a string source is a
// file path (or an http(s) URL, fetched).
import { readFile } from 'node:fs/promises';
import { createApi, fetchBytes, isBytes, EdgeInferError } from './core.js';
import { nodeThreads } from './node-threads.js';

/** A string or URL source as Node takes it: a URL when it is written as one, else a file path. */
const located = (source) =>
  source instanceof URL ? source : /^(https?|file):\/\//.test(source) ? new URL(source) : source;

/** Whether a wasm source names a file: a path or a file: URL. */
function isFile(source) {
  if (typeof source !== 'string' && !(source instanceof URL)) return false;
  const where = located(source);
  return !(where instanceof URL) || where.protocol === 'file:';
}

export const api = createApi({
  acceptsWasm: (wasm) => wasm instanceof WebAssembly.Module || isBytes(wasm) || isFile(wasm),
  wasmForms: 'a WebAssembly.Module, bytes, a file path or a file: URL in Node',
  variants: ['relaxed-simd', 'simd128'],
  async startWasm(wasm, { initSync, file }) {
    if (wasm instanceof WebAssembly.Module) return initSync({ module: wasm });
    const bytes = isBytes(wasm) ? wasm : await readFile(located(wasm ?? new URL(`../dist/${file}`, import.meta.url)));
    // Compiled off the main thread, then instantiated synchronously: V8's asynchronous
    // instantiation of this module took about 40 ms more (Node 20).
    return initSync({ module: await WebAssembly.compile(/** @type {BufferSource} */ (bytes)) });
  },
  threads: nodeThreads,
  async readSource(source, options) {
    const where = located(source);
    if (where instanceof URL && where.protocol !== 'file:') return fetchBytes(where, options);
    try {
      return new Uint8Array(await readFile(where));
    } catch (e) {
      throw new EdgeInferError('E_MODEL_FETCH', `cannot read the model file ${source}: ${e.message}`, { cause: e });
    }
  },
});
