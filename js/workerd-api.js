// The Cloudflare Workers (workerd) runtime's API, for the entry point that imports the build
// it runs: workerd.js (relaxed SIMD, the default) or workerd-simd128.js. A Worker carries the
// one build its entry point imports. workerd refuses to compile WebAssembly from bytes at run
// time, so the wasm is imported as a module, which the bundler (wrangler) compiles at deploy
// time, and the `wasm` option takes only a compiled module. A string source is a URL, fetched.
import { createApi, fetchBytes } from './core.js';

/** The API on `wasmModule`, the imported build named `variant` (js/variant.js). */
export function workerdApi(wasmModule, variant) {
  const other = variant === 'simd128' ? 'relaxed-simd' : 'simd128';
  return createApi({
    acceptsWasm: (wasm) => wasm instanceof WebAssembly.Module,
    wasmForms: 'only a WebAssembly.Module (an imported .wasm) in Cloudflare Workers',
    variants: [variant],
    otherBuilds: `a Worker runs ${other} by importing from '${other === 'simd128' ? 'edgeinfer/simd128' : 'edgeinfer'}'`,
    startWasm(wasm, { initSync }) {
      initSync({ module: wasm ?? wasmModule });
    },
    readSource(source, options) {
      return fetchBytes(source, options);
    },
  });
}
