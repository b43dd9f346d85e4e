// A Worker serving the models listed in ./models.js over HTTP (KServe v2, /predict, /metrics,
// and each model's monitoring: feedback, drift, statistics, prediction logs). Models load once
// per isolate, from its first request on (in the background; a request for a model not loaded
// yet waits for that one), so that start-up stays short. Add `loading: 'startup'` to
// createHandler's options to load them at start-up instead, as small models on the Free plan
// (10 ms of CPU per request) may want. A model's `reference` (the JSON of `edgeinfer
// reference`) is its drift reference, and a bundle's `publicKey` the key its signature must
// verify with.
import { Model } from 'edgeinfer';
import { createHandler } from 'edgeinfer/server';
import { MODELS } from './models.js';

export default createHandler({
  models: MODELS.map(({ bytes, reference, publicKey, ...m }) => ({
    ...m,
    load: (options) => Model.load(bytes, { ...options, reference, publicKey }),
  })),
});
