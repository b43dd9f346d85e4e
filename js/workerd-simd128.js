// Cloudflare Workers entry point with the simd128 build ('edgeinfer/simd128'): the same bits
// on every machine, where the default entry point's relaxed SIMD rounds fused multiply-adds
// once.
import wasmModule from '../dist/edgeinfer_bg.wasm';
import { workerdApi } from './workerd-api.js';

export const { Model, init, buildReference } = workerdApi(wasmModule, 'simd128');
export { EdgeInferError, predictionId } from './core.js';
