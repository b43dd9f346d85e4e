// The route table: each route has a method, a path pattern, the group that decides who may
// call it, and its handler.
import { HttpError, json, readBody, parseJson, parseJsonBytes, fromModelError } from './http.js';
import { modelMetadata, modelStatistics, parseInferRequest, inferResponse } from './v2.js';
import { isolateId } from './metrics.js';
import { splitBody } from './binary.js';
import { parsePredictRequest, predictResponse } from './instances.js';
import {
  checkOwner,
  configureLogs,
  modelExposition,
  parseFeedback,
  predictionId,
  rememberOwner,
  shipLogs,
} from './monitoring.js';

/** The v2 server metadata; its version is the package's (checked by tests/js/contracts.test.mjs). */
export const SERVER = { name: 'edgeinfer', version: '0.1.0', extensions: ['binary_tensor_data', 'statistics'] };

async function predict(ctx, entry, feeds) {
  configureLogs(entry, ctx.settings);
  entry.lastInference = Date.now();
  try {
    const outputs = await entry.model.predict(feeds);
    rememberOwner(entry, predictionId(outputs), ctx.who);
    return outputs;
  } catch (e) {
    throw fromModelError(e);
  } finally {
    shipLogs(entry, ctx);
  }
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
const canSee = (who) => who.scopes.has('predict') || who.scopes.has('admin');

const model = (ctx) => ctx.models.get(ctx.params.name, ctx.params.version, canSee(ctx.who));

/** The path of one of edgeinfer's own monitoring reports: /v2/models/{name}[/versions/{v}]/monitoring/{what}. */
const monitoringPath = (what) =>
  new RegExp(`^/v2/models/(?<name>[^/]+)(?:/versions/(?<version>[^/]+))?/monitoring/${what}$`);

/**
 * The entries Triton's statistics cover: every model, every version of a model, or one
 * version. None is loaded for it: a model not loaded yet has made no inference.
 */
function statisticsEntries(ctx) {
  const { name, version } = ctx.params;
  if (name === undefined) return ctx.models.entries;
  const entry = ctx.models.find(name, version, canSee(ctx.who));
  return version === undefined ? ctx.models.entries.filter((e) => e.name === entry.name) : [entry];
}

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
      return json({ model_stats: statisticsEntries(ctx).map((e) => modelStatistics(e, stats(e))) });
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
      return json(modelMetadata(entry, entry.model));
    },
  },
  {
    name: 'infer',
    group: 'infer',
    method: 'POST',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?\/infer$/,
    handle: async (ctx) => {
      const entry = await model(ctx);
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
      const outputs = await predict(ctx, entry, feeds);
      const response = inferResponse(entry, id, outputs, selected, binary, predictionId(outputs));
      if (!response.chunks.length) return json(response.json);
      const header = new TextEncoder().encode(JSON.stringify(response.json));
      return new Response(new Blob([header, ...response.chunks]), {
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(header.length),
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
      const entry = await ctx.models.get(name, version === undefined ? undefined : String(version), canSee(ctx.who));
      const { kind, feeds } = parsePredictRequest(body, entry.layout, ctx.settings.limits);
      const outputs = await predict(ctx, entry, feeds);
      const id = predictionId(outputs);
      return json({ ...predictResponse(kind, outputs), ...(id !== undefined ? { id } : {}) });
    },
  },
  {
    name: 'feedback',
    group: 'feedback',
    method: 'POST',
    path: /^\/v2\/models\/(?<name>[^/]+)(?:\/versions\/(?<version>[^/]+))?\/feedback$/,
    handle: async (ctx) => {
      const entry = await model(ctx);
      const { id, labels } = parseFeedback(await jsonBody(ctx));
      checkOwner(entry, id, ctx.who);
      const joined = monitoring(() => entry.model.feedback(id, labels));
      return json({ model_name: entry.name, model_version: entry.version, id, joined });
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
    name: 'metrics',
    group: 'metrics',
    method: 'GET',
    path: /^\/metrics$/,
    // Models not loaded yet have no families: a scrape never waits on a load.
    handle: (ctx) => {
      return new Response(ctx.metrics.render(modelExposition(ctx.models, isolateId()), ctx.models.memory()), {
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
