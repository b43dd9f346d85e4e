// A Worker serving the models listed in ./models.js over HTTP (KServe v2, /predict, /metrics,
// and each model's monitoring: feedback, drift, statistics, prediction logs). Models load
// once per isolate, when this module is first evaluated; a model's `reference` (the JSON of
// `edgeinfer reference`) is its drift reference, and a bundle's `publicKey` the key its
// signature must verify with.
import { Model } from 'edgeinfer';
import { createHandler } from 'edgeinfer/server';
import { MODELS } from './models.js';

export default createHandler({
  models: MODELS.map(({ bytes, reference, publicKey, ...m }) => ({
    ...m,
    load: (options) => Model.load(bytes, { ...options, reference, publicKey }),
  })),
});
