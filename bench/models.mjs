// The models the engine benchmarks run (bench/engine.mjs, bench/simd.mjs).
import { join } from 'node:path';
import { benchModel, corpusDir, root } from './paths.mjs';

/** The models, where they come from, their batch-1 feeds, and a second shape for `shapes`. */
export const MODELS = {
  squeezenet: { path: () => benchModel('squeezenet'), feeds: 'image224:data_0', next: 'image224_b2:data_0' },
  shufflenet: {
    path: () => benchModel('shufflenet'),
    feeds: 'image224:gpu_0/data_0',
    next: 'image224_b2:gpu_0/data_0',
  },
  inception_v2: { path: () => benchModel('inception_v2'), feeds: 'image224:data_0', next: 'image224_b2:data_0' },
  resnet50: { path: () => benchModel('resnet50'), feeds: 'image224:gpu_0/data_0', next: 'image224_b2:gpu_0/data_0' },
  densenet121: { path: () => benchModel('densenet121'), feeds: 'image224:data_0', next: 'image224_b2:data_0' },
  minilm: { path: () => benchModel('minilm'), feeds: 'text128', next: 'text64' },
  encoder_block: { path: () => join(corpusDir(), 'encoder_block.onnx'), feeds: 'encoder_s16', next: 'encoder_s24' },
  lstm: { path: () => join(corpusDir(), 'lstm.onnx'), feeds: 'lstm_s5', next: 'lstm_s9' },
  recommender_topk: { path: () => join(corpusDir(), 'recommender_topk.onnx'), feeds: 'topk_b1', next: 'topk_b1_n7' },
  mlp_tabular: { path: () => join(corpusDir(), 'mlp_tabular.onnx'), feeds: 'mlp_b1', next: 'mlp_b3' },
  recommender: { path: () => join(root, 'www/data/recommender.onnx'), feeds: 'picks_3', next: 'picks_4' },
};
