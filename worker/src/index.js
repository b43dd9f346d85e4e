// A Worker serving the models listed in ./models.js over HTTP (KServe v2, /predict, /metrics,
// and each model's monitoring: feedback, drift, statistics, prediction logs). Models load once
// per isolate, from its first request on (in the background; a request for a model not loaded
// yet waits for that one), so that start-up stays short. Add `loading: 'startup'` to
// createHandler's options to load them at start-up instead, as small models on the Free plan
// (10 ms of CPU per request) may want. A model's `reference` (the JSON of `edgeinfer
// reference`) is its drift reference, its `guard` ('refuse', 'clip', 'flag' or false) the input
// guard against that reference (a bundle built with --guard has its own), and a bundle's
// `publicKey` the key its signature must verify with. A model with `r2` ({ binding, key, sha256 }: `edgeinfer worker --r2 BUCKET`) is
// read from the R2 bucket on first use instead of being part of the script, and refused unless
// its SHA-256 is the one given. An isolate has 128 MB of memory: add `memory: { budget: BYTES,
// over: 'evict' }` to keep what the loaded models hold under a budget, unloading the least
// recently used (or `over: 'refuse'`, refusing a model that would pass it). A model's
// `monitoring` options are its own (`{ exportFeedback: true }` keeps labelled rows for
// GET /v2/models/{name}/feedback/export or FEEDBACK_QUEUE). Several versions
// of a model are served side by side; TRAFFIC (models.js) says which answers requests that
// name none: a canary share of callers to a candidate, shadow traffic to compare it. The
// handler's `queue` consumes batch jobs' chunks (POST /v2/batch/jobs) where wrangler.toml
// binds their bucket and queues (`edgeinfer worker --batch`).
import { Model } from 'edgeinfer';
import { createHandler, readFromR2 } from 'edgeinfer/server';
import { MODELS, TRAFFIC } from './models.js';

// The Durable Object rate limits count in where the account has no Rate Limiting binding
// (RATE_LIMIT_REQUESTS in wrangler.toml).
export { RateLimiter } from 'edgeinfer/server';

export default createHandler({
  models: MODELS.map(({ bytes, r2, reference, publicKey, guard, monitoring, ...m }) => ({
    ...m,
    load: async (options, env) =>
      Model.load(r2 ? await readFromR2(env, r2) : bytes, {
        ...options,
        monitoring: { ...options.monitoring, ...monitoring },
        reference,
        publicKey,
        guard,
      }),
  })),
  traffic: TRAFFIC,
});
