// A Worker serving the models listed in ./models.js over HTTP (KServe v2, /predict, /metrics).
// Models load once per isolate, when this module is first evaluated.
import { Model } from 'edgeinfer';
import { createHandler } from 'edgeinfer/server';
import { MODELS } from './models.js';

export default createHandler({
  models: MODELS.map(({ bytes, ...m }) => ({ ...m, load: () => Model.load(bytes) })),
});
