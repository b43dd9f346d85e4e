// The route table: each route has a method, a path pattern, the group that decides who may
// call it, and its handler.
import { HttpError, json, readBody, parseJson, parseJsonBytes, fromModelError } from './http.js';
import { modelMetadata, modelStatistics, parseInferRequest, inferResponse } from './v2.js';
import { isolateId } from './metrics.js';
import { compareOutputs, route } from './traffic.js';
import { splitBody } from './binary.js';
import { parsePredictRequest, predictResponse } from './instances.js';
import {
  checkOwner,
  configureLogs,
  modelExposition,
  parseFeedback,
  predictionId,
  rememberOwner,
  shipFeedback,
  shipLogs,
} from './monitoring.js';
import { jobFile, jobStatus, submitJob } from './batch-jobs.js';

/** The v2 server metadata; its version is the package's (checked by tests/js/contracts.test.mjs). */
export const SERVER = { name: 'edgeinfer', version: '0.1.0', extensions: ['binary_tensor_data', 'statistics'] };

/**
 * Predicts with `entry`; under a traffic `policy` that shadows, production's answer is also
 * asked of the candidate on that share of requests, after the response.
 */
async function predict(ctx, entry, feeds, policy = null) {
  configureLogs(entry, ctx.settings);
  entry.lastInference = Date.now();
  try {
    const started = performance.now();
    const outputs = await entry.model.predict(feeds);
    const seconds = (performance.now() - started) / 1000;
    rememberOwner(entry, predictionId(outputs), ctx.who);
    if (policy?.candidate && entry.version === policy.production && Math.random() * 100 < policy.shadow)
      shadow(ctx, entry, policy.candidate, feeds, outputs, seconds);
    return outputs;
  } catch (e) {
    throw fromModelError(e);
  } finally {
    shipLogs(entry, ctx);
  }
}

/**
 * Queues the `candidate` version's run on the feeds production answered, for when no request
 * is in flight (kept alive by `waitUntil`), to compare the two answers. Its failures are
 * counted and logged, never the caller's.
 */
function shadow(ctx, entry, candidate, feeds, outputs, seconds) {
  const run = async () => {
    const lease = ctx.lease();
    try {
      const other = await lease.get(entry.name, candidate);
      const started = performance.now();
      const answer = await other.model.predict(feeds);
      return { compared: compareOutputs(outputs, answer), seconds: (performance.now() - started) / 1000 };
    } finally {
      lease.release();
    }
  };
  ctx.waitUntil?.(ctx.shadows.enqueue(entry.name, entry.version, candidate, seconds, run));
}

/** Calls the model's monitoring, with its errors as HTTP errors. */
function monitoring(f) {
  try {
    return f();
  } catch (e) {
    throw fromModelError(e);
  }
}

async function jsonBody(ctx) {
  return parseJson(ctx.request, await readBody(ctx.request, ctx.settings.limits.maxBodyBytes));
}

/** Whether the caller may learn which models exist (the metadata group's scope). */
const canSee = (who) => who.scopes.has('predict') || who.scopes.has('batch') || who.scopes.has('admin');

/** The traffic policy of the model a request names (404 first for a model not served). */
async function policyOf(ctx, name) {
  ctx.models.find(name, undefined, canSee(ctx.who));
  return (await ctx.traffic.current(name, ctx.env, ctx.settings)).policy;
}

/** The model a request names: its version, else the traffic policy's production one, else the latest. */
const model = async (ctx) =>
  ctx.models.get(
    ctx.params.name,
    ctx.params.version ?? (await policyOf(ctx, ctx.params.name))?.production,
    canSee(ctx.who),
  );

/**
 * The model a prediction goes to: the version it names, else the one the traffic policy
 * routes this caller to (a canary's candidate, or production), else the latest; and the
 * policy, for shadowing.
 */
async function routed(ctx, name, version) {
  if (version !== undefined) return { entry: await ctx.models.get(name, version, canSee(ctx.who)), policy: null };
  const policy = await policyOf(ctx, name);
  return { entry: await ctx.models.get(name, route(name, policy, ctx.request, ctx.who), canSee(ctx.who)), policy };
}

/** Which version answered, for callers of either protocol. */
const answeredBy = (entry) => ({ 'edgeinfer-model-version': entry.version });

/** The path of one of edgeinfer's own monitoring reports: /v2/models/{name}[/versions/{v}]/monitoring/{what}. */
const monitoringPath = (what) =>
  new RegExp(`^/v2/models/(?<name>[^/]+)(?:/versions/(?<version>[^/]+))?/monitoring/${what}$`);

/**
 * The entries a request names: every model (no name), every version of a model (no
 * version), or one version; none is loaded for it. Triton's statistics and the feedback
 * export cover these.
 */
function namedEntries(ctx) {
  const { name, version } = ctx.params;
  if (name === undefined) return ctx.models.entries;
  const entry = ctx.models.find(name, version, canSee(ctx.who));
  return version === undefined ? ctx.models.entries.filter((e) => e.name === entry.name) : [entry];
}

const versionsOf = (ctx, name) => ctx.models.entries.filter((e) => e.name === name).map((e) => e.version);

/** Whether an entry's model is loaded and exports labelled rows (monitoring.exportFeedback). */
function exporting(entry) {
  try {
    return entry.model?.stats().feedback.export === true;
  } catch {
    return false; // monitoring off
  }
}

/** A model's traffic policy as GET and PUT /v2/models/{name}/traffic answer. */
const trafficBody = (ctx, name, policy, source) => ({
  model_name: name,
  versions: versionsOf(ctx, name),
  policy,
  source,
  refresh_seconds: ctx.settings.traffic.refreshSeconds,
});

export const ROUTES = [
  {
    name: 'health_live',
    group: 'health',
    method: 'GET',
    path: /^\/v2\/health\/live$/,
    handle: () => json({ live: true }),
  },
  {
    name: 'health_ready',
    group: 'health',
    method: 'GET',
    path: /^\/v2\/health\/ready$/,
    // Answers at once: while models load (after the first request) it is 503 with each one's
    // state, so that a probe never waits on, or starts, a load on its own path.
    handle: (ctx) => {
      const models = ctx.models.states();
      const ready = models.every((m) => m.state === 'ready');
      return json(ready ? { ready } : { ready, models }, ready ? 200 : 503);
    },
  },
  { name: 'server_metadata', group: 'health', method: 'GET', path: /^\/v2\/?$/, handle: () => json(SERVER) },
  {
    // Triton's statistics extension; before model_metadata, which /v2/models/stats would match.
    name: 'model_statistics',
    group: 'metrics',
    method: 'GET',
    path: /^\/v2\/models(?:\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?)?\/stats$/,
    handle: (ctx) => {
      const stats = (e) => (e.model ? monitoring(() => e.model.stats()) : null);
      return json({ model_stats: namedEntries(ctx).map((e) => modelStatistics(e, stats(e))) });
    },
  },
  {
    name: 'model_ready',
    group: 'health',
    method: 'GET',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?\/ready$/,
    handle: (ctx) => {
      const entry = ctx.models.find(ctx.params.name, ctx.params.version, canSee(ctx.who));
      const ready = entry.state === 'ready';
      return json({ name: entry.name, ready, ...(ready ? {} : { state: entry.state }) }, ready ? 200 : 503);
    },
  },
  {
    name: 'model_metadata',
    group: 'metadata',
    method: 'GET',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?$/,
    handle: async (ctx) => {
      const entry = await model(ctx);
      return json(modelMetadata(entry, entry.model, versionsOf(ctx, entry.name)));
    },
  },
  {
    name: 'infer',
    group: 'infer',
    method: 'POST',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?\/infer$/,
    handle: async (ctx) => {
      const { entry, policy } = await routed(ctx, ctx.params.name, ctx.params.version);
      const bytes = await readBody(ctx.request, ctx.settings.limits.maxBodyBytes);
      const headerLength = ctx.request.headers.get('inference-header-content-length');
      let body, tail;
      if (headerLength === null) {
        body = parseJson(ctx.request, bytes);
      } else {
        const parts = splitBody(bytes, headerLength);
        body = parseJsonBytes(parts.header);
        tail = parts.tail;
      }
      const { id, feeds, selected, binary } = parseInferRequest(body, entry.model, ctx.settings.limits, tail);
      const outputs = await predict(ctx, entry, feeds, policy);
      const response = inferResponse(entry, id, outputs, selected, binary, predictionId(outputs));
      if (!response.chunks.length) return json(response.json, 200, answeredBy(entry));
      const header = new TextEncoder().encode(JSON.stringify(response.json));
      return new Response(new Blob([header, ...response.chunks]), {
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(header.length),
          ...answeredBy(entry),
        },
      });
    },
  },
  {
    name: 'predict',
    group: 'infer',
    method: 'POST',
    path: /^\/predict$/,
    handle: async (ctx) => {
      const body = await jsonBody(ctx);
      const name = body?.model ?? ctx.models.entries[0].name;
      if (typeof name !== 'string') throw new HttpError(400, "'model' must be a string");
      const version = body?.version;
      if (version !== undefined && typeof version !== 'string' && !Number.isFinite(version)) {
        throw new HttpError(400, "'version' must be a string or a number");
      }
      const { entry, policy } = await routed(ctx, name, version === undefined ? undefined : String(version));
      const { kind, feeds } = parsePredictRequest(body, entry.layout, ctx.settings.limits);
      const outputs = await predict(ctx, entry, feeds, policy);
      const id = predictionId(outputs);
      return json({ ...predictResponse(kind, outputs), ...(id !== undefined ? { id } : {}) }, 200, answeredBy(entry));
    },
  },
  {
    name: 'feedback',
    group: 'feedback',
    method: 'POST',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?\/feedback$/,
    handle: async (ctx) => {
      const { id, labels } = parseFeedback(await jsonBody(ctx));
      // Without a version, the prediction's own: under a canary, a caller's predictions may
      // come from either version.
      const made =
        ctx.params.version === undefined &&
        ctx.models.entries.find((e) => e.name === ctx.params.name && e.model && e.owners?.has(id));
      const entry = made ? await ctx.models.get(made.name, made.version, canSee(ctx.who)) : await model(ctx);
      checkOwner(entry, id, ctx.who);
      const joined = monitoring(() => entry.model.feedback(id, labels));
      shipFeedback(entry, ctx);
      return json({ model_name: entry.name, model_version: entry.version, id, joined });
    },
  },
  {
    name: 'feedback_export',
    group: 'admin',
    method: 'GET',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?\/feedback\/export$/,
    // The rows feedback labelled since the last export, as JSON Lines: of one version, or of
    // every loaded version of the model. Taking them empties the queue.
    handle: (ctx) => {
      const { name, version } = ctx.params;
      const entries = namedEntries(ctx).filter(exporting);
      if (!entries.length)
        throw new HttpError(
          409,
          `model '${name}'${version === undefined ? '' : ` version ${version}`} exports no labelled rows here: load it with monitoring: { exportFeedback: true }`,
        );
      const lines = entries.flatMap((e) => e.model.exportFeedback());
      return new Response(lines.map((l) => `${l}\n`).join(''), {
        headers: { 'content-type': 'application/x-ndjson' },
      });
    },
  },
  {
    name: 'monitoring_drift',
    group: 'metrics',
    method: 'GET',
    path: monitoringPath('drift'),
    handle: async (ctx) => {
      const entry = await model(ctx);
      return json({ model_name: entry.name, model_version: entry.version, ...monitoring(() => entry.model.drift()) });
    },
  },
  {
    name: 'monitoring_stats',
    group: 'metrics',
    method: 'GET',
    path: monitoringPath('stats'),
    handle: async (ctx) => {
      const entry = await model(ctx);
      return json({ model_name: entry.name, model_version: entry.version, ...monitoring(() => entry.model.stats()) });
    },
  },
  {
    name: 'traffic',
    group: 'admin',
    method: 'GET',
    path: /^\/v2\/models\/(?<name>[^/]+)\/traffic$/,
    handle: async (ctx) => {
      const { name } = ctx.params;
      ctx.models.find(name);
      const { policy, source } = await ctx.traffic.current(name, ctx.env, ctx.settings);
      return json(trafficBody(ctx, name, policy, source));
    },
  },
  {
    name: 'traffic_update',
    group: 'admin',
    method: 'PUT',
    path: /^\/v2\/models\/(?<name>[^/]+)\/traffic$/,
    handle: async (ctx) => {
      const { name } = ctx.params;
      ctx.models.find(name);
      const policy = await ctx.traffic.update(name, await jsonBody(ctx), ctx.env, ctx.settings, ctx.who);
      return json(trafficBody(ctx, name, policy, 'kv'));
    },
  },
  {
    name: 'compare',
    group: 'metrics',
    method: 'GET',
    path: /^\/v2\/models\/(?<name>[^/]+)\/compare$/,
    handle: (ctx) => {
      const entry = ctx.models.find(ctx.params.name, undefined, canSee(ctx.who));
      return json({ model_name: entry.name, isolate: isolateId(), shadows: ctx.shadows.report(entry.name) });
    },
  },
  {
    name: 'batch_submit',
    group: 'batch',
    method: 'POST',
    path: /^\/v2\/batch\/jobs$/,
    // The version is pinned now: the traffic policy's production one unless the job names one.
    handle: async (ctx) =>
      submitJob(ctx, await jsonBody(ctx), async (name, version) =>
        ctx.models.get(name, version ?? (await policyOf(ctx, name))?.production, canSee(ctx.who)),
      ),
  },
  {
    name: 'batch_status',
    group: 'batch',
    method: 'GET',
    path: /^\/v2\/batch\/jobs\/(?<id>[^/]+)$/,
    handle: jobStatus,
  },
  {
    name: 'batch_file',
    group: 'batch',
    method: 'GET',
    path: /^\/v2\/batch\/jobs\/(?<id>[^/]+)\/(?<file>.+)$/,
    handle: jobFile,
  },
  {
    name: 'metrics',
    group: 'metrics',
    method: 'GET',
    path: /^\/metrics$/,
    // Models not loaded yet have no families: a scrape never waits on a load.
    handle: (ctx) => {
      const extra = modelExposition(ctx.models, isolateId()) + ctx.shadows.exposition(isolateId());
      return new Response(ctx.metrics.render(extra, ctx.models.memory()), {
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      });
    },
  },
];

/** The route for a request, or a 404 / 405 naming what exists. */
export function match(method, pathname) {
  const candidates = ROUTES.map((r) => ({ r, m: r.path.exec(pathname) })).filter((x) => x.m);
  if (!candidates.length) throw new HttpError(404, `no route for ${pathname}`);
  const hit = candidates.find((x) => x.r.method === method || (method === 'HEAD' && x.r.method === 'GET'));
  if (!hit) {
    const allow = [...new Set(candidates.map((x) => x.r.method)), 'OPTIONS'].join(', ');
    throw new HttpError(405, `${method} is not allowed on ${pathname}; allowed: ${allow}`, { allow });
  }
  const params = {};
  for (const [k, v] of Object.entries(hit.m.groups ?? {})) {
    if (v === undefined) continue;
    try {
      params[k] = decodeURIComponent(v);
    } catch {
      throw new HttpError(400, `the ${k} in ${pathname} is not valid percent-encoding`);
    }
  }
  return { route: hit.r, params };
}
