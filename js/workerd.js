// Cloudflare Workers (workerd) entry point, with the relaxed-SIMD build: workerd's V8 has
// relaxed SIMD on, as Chrome's does. 'edgeinfer/simd128' is the same with the simd128 build.
import wasmModule from '../dist/edgeinfer_relaxed_bg.wasm';
import { workerdApi } from './workerd-api.js';

export const { Model, init, buildReference } = workerdApi(wasmModule, 'relaxed-simd');
export { EdgeInferError, predictionId } from './core.js';
