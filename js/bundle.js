// Opens a bundle made by `edgeinfer build`. A bundle's wasm is this runtime itself with the
// model in custom sections, so the runtime is started from the bundle's compiled module and
// the model is read from that module's sections: no second download, no second compile.
// Nothing here is Node's: what Node adds (bundle-node.js) comes in as a `host`, so the Worker
// module, which imports this one, needs no nodejs_compat.
import { bundleSections, createApi, describe, EdgeInferError } from './core.js';
import { hasRelaxedSimd, isThreadsBuild } from './variant.js';
import { sections } from './wasm-reader.js';

let api = null;

/**
 * A reader of the custom sections in a module's bytes: views, not copies, available before
 * the module compiles. Undefined for a section that is absent or repeated, as from a Module.
 */
function fileSections(bytes) {
  const found = new Map();
  for (const [id, cursor, end] of sections(bytes)) {
    if (id !== 0) continue;
    const name = cursor.name();
    found.set(name, found.has(name) ? undefined : bytes.subarray(cursor.at, end));
  }
  return (name) => found.get(name);
}

async function compileResponse(response, what, host) {
  if (!response.ok)
    throw new EdgeInferError('E_MODEL_FETCH', `cannot fetch the bundle from ${what}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (WebAssembly.compileStreaming && type.startsWith('application/wasm'))
    return { module: await WebAssembly.compileStreaming(response) };
  return compileBytes(new Uint8Array(await response.arrayBuffer()), host);
}

/** Compiles, and meanwhile reads the sections and hashes them (by `host.sha256`, else WebCrypto). */
async function compileBytes(bytes, host) {
  const compiling = WebAssembly.compile(bytes);
  compiling.catch(() => {}); // awaited below, after the hashing has started
  let sections;
  try {
    sections = bundleSections(fileSections(bytes), host.sha256);
  } catch {
    // Not a module: compiling says why.
  }
  return { module: await compiling, sections };
}

/**
 * The module compiled from each URL: a load retried after a refusal (a wrong key, a bad
 * option) reuses it, with the instance started from it, which may then still restore its
 * snapshot (see `fresh` in core.js).
 */
const compiledUrls = new Map();

/**
 * A compiled module from a Module, bytes, a Response, a URL or a path, with its sections when
 * the bytes were at hand; `host.readFile` reads file: URLs.
 */
async function compileBundle(source, host) {
  if (source instanceof WebAssembly.Module) return { module: source };
  // The caller's bytes are copied: what is hashed must be what is loaded.
  if (source instanceof ArrayBuffer) return compileBytes(new Uint8Array(source.slice(0)), host);
  if (ArrayBuffer.isView(source))
    return compileBytes(
      new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength)),
      host,
    );
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    const known = compiledUrls.get(url.href);
    if (known) return { module: known };
    const compiled =
      url.protocol === 'file:' && host.readFile
        ? await compileBytes(await host.readFile(url), host)
        : await compileResponse(await fetch(url), url.href, host);
    compiledUrls.set(url.href, compiled.module);
    return compiled;
  }
  // Last: Node loads its fetch implementation on first reading the global `Response` (20 ms).
  if (typeof Response !== 'undefined' && source instanceof Response)
    return compileResponse(source, source.url || 'a Response', host);
  throw new EdgeInferError(
    'E_INVALID_OPTION',
    `cannot load a bundle from ${describe(source)}: expected a WebAssembly.Module, bytes, a Response, a URL or a path`,
  );
}

/**
 * Loads the bundle at `defaultUrl()` (or `options.wasm`: a compiled Module, as workerd gives
 * it, bytes, a Response or a URL), checking it with `options.publicKey` if given.
 */
async function openBundle(defaultUrl, options, host) {
  const { wasm, ...rest } = options;
  let module, sections;
  try {
    ({ module, sections } = await compileBundle(wasm ?? defaultUrl(), host));
  } catch (e) {
    if (e instanceof EdgeInferError) throw e;
    // A bundle built with --simd relaxed-simd or --threads does not compile where relaxed
    // SIMD is off.
    const hint = hasRelaxedSimd()
      ? ''
      : ' (this engine lacks relaxed SIMD, which a bundle built with --simd relaxed-simd or --threads needs)';
    throw new EdgeInferError('E_WASM_LOAD', `cannot compile the bundle: ${e?.message ?? e}${hint}`, { cause: e });
  }
  // A bundle built with --threads starts Workers where its host has them (bundle-node.js).
  const threads = isThreadsBuild(module) ? await host.threads?.() : undefined;
  api ??= createApi({
    acceptsWasm: (given) => given instanceof WebAssembly.Module,
    wasmForms: "the bundle's compiled module",
    // A bundle runs the build of the core it was made with (`edgeinfer build --simd`).
    variants: [],
    otherBuilds: 'a bundle runs the build it was made with (edgeinfer build --simd)',
    // Synchronous instantiation where it is allowed: V8's asynchronous one took about 40 ms
    // more in Node, a third of a bundle's start. Browsers refuse synchronous instances of
    // modules over 8 MB on the main thread, with a RangeError.
    startWasm: (given, { initWasm, initSync }) => {
      try {
        return initSync({ module: given });
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        return initWasm({ module_or_path: given });
      }
    },
    readSource: () => {
      throw new EdgeInferError('E_INVALID_OPTION', "a bundle's runtime loads only its own model");
    },
    threads,
  });
  return { model: await api.loadBundle(module, { ...rest, wasm: module }, sections), module };
}

/**
 * The `load` and `predict` of a generated bundle module (`edgeinfer build`'s NAME.js and
 * NAME.worker.js). The bundle loads once per module instance, and every later `load` is held
 * to its own options rather than handed the model the first one loaded: a `publicKey` is
 * checked against the bundle's signature again, and any other option must be the first load's
 * (omitted options take what is loaded). A failed load leaves nothing behind, so the next one
 * starts afresh. `host` is what the runtime adds: Node's file reading and hashing
 * (bundle-node.js), or nothing.
 */
export function bundleLoader(defaultUrl, host = {}) {
  let first = null;

  /** @param {any} [options] */
  function load(options = {}) {
    if (options === null || typeof options !== 'object') {
      return Promise.reject(
        new EdgeInferError('E_INVALID_OPTION', `options must be an object, got ${describe(options)}`),
      );
    }
    if (!first) {
      const opened = openBundle(defaultUrl, options, host);
      const attempt = { opened, options };
      first = attempt;
      opened.catch(() => {
        if (first === attempt) first = null;
      });
      return opened.then(({ model }) => model);
    }
    const { opened, options: loaded } = first;
    return opened.then(
      ({ model, module }) => {
        const conflict = Object.keys(options).find(
          (k) => k !== 'publicKey' && options[k] !== undefined && !sameOption(options[k], loaded[k]),
        );
        if (conflict) {
          throw new EdgeInferError(
            'E_INVALID_OPTION',
            `load() was given a '${conflict}' option other than the one the bundle was loaded with; a bundle loads once per page, process or isolate, so give every load the same options, or none but publicKey`,
          );
        }
        if (options.publicKey !== undefined) api.checkSigner(module, options.publicKey);
        return model;
      },
      () => load(options),
    );
  }

  return {
    load,
    /** Predicts, loading the bundle on first use. */
    predict: async (feeds) => (await load()).predict(feeds),
  };
}

/**
 * Whether two option values are the same: plain objects and arrays by value, bytes by their
 * contents, URLs by address, anything else (functions, modules) by identity.
 */
function sameOption(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof URL || b instanceof URL) return a instanceof URL && b instanceof URL && a.href === b.href;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const [x, y] = [a, b].map((v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  const plain = (o) => [Object.prototype, Array.prototype, null].includes(Object.getPrototypeOf(o));
  if (!plain(a) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => sameOption(a[k], b[k]));
}
