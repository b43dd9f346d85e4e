// Opens a bundle made by `edgeinfer build`. A bundle's wasm is this runtime itself with the
// model in custom sections, so the runtime is started from the bundle's compiled module and
// the model is read from that module's sections: no second download, no second compile.
import { createApi, EdgeInferError } from './core.js';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';
let api = null;

async function compileResponse(response, what) {
  if (!response.ok) throw new EdgeInferError('E_MODEL_FETCH', `cannot fetch the bundle from ${what}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (WebAssembly.compileStreaming && type.startsWith('application/wasm')) return WebAssembly.compileStreaming(response);
  return WebAssembly.compile(await response.arrayBuffer());
}

/** A compiled module from a Module, bytes, a Response, a URL or a path. */
async function compileBundle(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  if (typeof Response !== 'undefined' && source instanceof Response) return compileResponse(source, source.url || 'a Response');
  const url = source instanceof URL ? source : new URL(source, globalThis.location?.href);
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  return compileResponse(await fetch(url), String(url));
}

/**
 * Loads the bundle at `defaultUrl` (or `options.wasm`: a compiled Module, as workerd gives
 * it, bytes, a Response or a URL), checking it with `options.publicKey` if given.
 */
export async function openBundle(defaultUrl, options = {}) {
  const { wasm, ...rest } = options;
  let module;
  try {
    module = await compileBundle(wasm ?? defaultUrl);
  } catch (e) {
    if (e instanceof EdgeInferError) throw e;
    throw new EdgeInferError('E_WASM_LOAD', `cannot compile the bundle: ${e?.message ?? e}`, { cause: e });
  }
  api ??= createApi({
    // Asynchronous instantiation: browsers refuse synchronous instances of modules over 8 MB
    // on the main thread.
    startWasm: (given, { initWasm }) => initWasm({ module_or_path: given }),
    readSource: () => {
      throw new EdgeInferError('E_INVALID_OPTION', "a bundle's runtime loads only its own model");
    },
  });
  return api.Model.fromBundleModule(module, { ...rest, wasm: module });
}
