// The builds of the core in dist/, and which of them the engine can run. Relaxed SIMD lets
// the kernels fuse each multiply and add (`f32x4.relaxed_madd`); engines without it (Node 20
// unless started with --experimental-wasm-relaxed-simd) refuse the module outright, so the
// choice is made before fetching it, from a probe module the engine validates or not.

/** A module whose one function returns `f32x4.relaxed_madd` of three zero vectors. */
const RELAXED_PROBE = new Uint8Array([
  ...[0, 97, 115, 109, 1, 0, 0, 0], // "\0asm", version 1
  ...[1, 5, 1, 96, 0, 1, 123], // one type: () -> v128
  ...[3, 2, 1, 0], // one function of that type
  ...[10, 61, 1, 59, 0], // its body (59 bytes): no locals,
  ...[0, 0, 0].flatMap(() => [253, 12, ...new Array(16).fill(0)]), // three v128.const 0,
  ...[253, 133, 2, 11], // f32x4.relaxed_madd, end
]);

/** The wasm file in dist/ of each variant, best first. */
export const WASM_FILES = { 'relaxed-simd': 'edgeinfer_relaxed_bg.wasm', simd128: 'edgeinfer_bg.wasm' };

/**
 * The threads build's wasm: relaxed SIMD, a shared memory, and operators split across
 * Workers. Its glue is dist/edgeinfer_threads.js.
 */
export const THREADS_FILE = 'edgeinfer_threads_bg.wasm';

/** Whether `module` is the threads build: the one build that imports its memory. */
export const isThreadsBuild = (module) => WebAssembly.Module.imports(module).some(({ kind }) => kind === 'memory');

let relaxed;

/** Whether this engine runs relaxed SIMD. */
export const hasRelaxedSimd = () => (relaxed ??= WebAssembly.validate(RELAXED_PROBE));
