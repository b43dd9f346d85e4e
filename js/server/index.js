// edgeinfer/server: serve models over HTTP from a Cloudflare Worker (or any fetch-style
// runtime): the Open Inference Protocol (KServe v2), a plain JSON /predict route,
// Prometheus /metrics and the models' monitoring (feedback, drift, statistics, prediction
// logs), with API keys or JWTs, CORS and limits on what a request may ask.
import { HttpError, errorResponse } from './http.js';
import { authenticate, authorize } from './auth.js';
import { GROUPS, resolveSettings } from './settings.js';
import { HttpMetrics } from './metrics.js';
import { ModelSet } from './models.js';
import { match } from './routes.js';
import { rateLimit, rateLimitFailedAuthentication } from './rate-limit.js';
import { Shadows, Traffic } from './traffic.js';
import { consumeBatch } from './batch-jobs.js';

export { readFromR2 } from './r2.js';
export { RateLimiter } from './rate-limiter.js';

/** The caller of a public route: every such caller is the same principal. */
/** @type {{ name: string, scopes: Set<string>, rateLimit?: string }} */
const ANONYMOUS = Object.freeze({ name: 'anonymous', scopes: new Set() });

// inference-header-content-length: the v2 binary extension, both ways.
const CORS_HEADERS = 'authorization, content-type, inference-header-content-length';

/**
 * `loading`: 'first-request' (the default: nothing loads at start-up; the first request starts
 * every model loading in the background) or 'startup' (load when the handler is made, at a
 * Worker's module scope, which counts against its start-up time limit). `memory`: a budget, in
 * bytes, for what the loaded models hold together, and what to do when a load would pass it:
 * 'refuse' it (E_RESOURCE_LIMIT), or 'evict' the least recently used idle models.
 * @param {Parameters<typeof import('./index.d.ts').createHandler>[0]} config
 * @returns {ReturnType<typeof import('./index.d.ts').createHandler>}
 */
export function createHandler(config) {
  const metrics = new HttpMetrics();
  const models = new ModelSet(config?.models, metrics, config?.loading, config?.memory);
  const traffic = new Traffic(config?.traffic, models.entries);
  let inFlight = 0;
  const shadows = new Shadows(() => inFlight === 0);
  return {
    async fetch(request, env = {}, context = undefined) {
      inFlight++;
      const started = performance.now();
      let routeName = 'unmatched';
      let settings = null;
      let response;
      const waitUntil = context?.waitUntil ? (p) => context.waitUntil(p) : undefined;
      models.startInBackground(waitUntil, env);
      const lease = models.lease();
      try {
        try {
          settings = await resolveSettings(env, config.settings);
        } catch (e) {
          // A deployment mistake: its detail (which can quote a setting's value) goes to the
          // Worker's logs, never to callers.
          console.error(`edgeinfer: server misconfigured: ${e.message}`);
          throw new HttpError(500, "server misconfigured (the Worker's logs say how)");
        }
        const url = new URL(request.url);
        const pathname = withinBase(url.pathname, settings.basePath);
        if (request.method === 'OPTIONS') {
          routeName = 'preflight';
          response = new Response(null, { status: 204 });
        } else {
          const { route, params } = match(request.method, pathname);
          routeName = route.name;
          let who = ANONYMOUS;
          if (!settings.publicRoutes.has(route.group)) {
            who = await authenticate(request, settings.auth).catch(async (e) => {
              if (e instanceof HttpError && e.status === 401)
                await rateLimitFailedAuthentication(request, env, settings, metrics);
              throw e;
            });
            authorize(who, GROUPS[route.group]);
          }
          await rateLimit(request, env, settings, who, who === ANONYMOUS, metrics);
          response = await route.handle({
            request,
            params,
            models: lease,
            lease: () => models.lease(),
            traffic,
            shadows,
            settings,
            metrics,
            env,
            waitUntil,
            who,
          });
        }
      } catch (e) {
        response = errorResponse(e instanceof HttpError ? e : new HttpError(500, 'internal error'));
      } finally {
        lease.release();
        inFlight--;
        shadows.wake();
      }
      response = withCors(request, response, settings?.corsOrigins ?? []);
      metrics.observe(routeName, response.status, (performance.now() - started) / 1000);
      return response;
    },
    /** The Queue consumer of batch jobs' chunks (and of their dead-letter queue). */
    async queue(batch, env = {}, context = undefined) {
      models.startInBackground(context?.waitUntil ? (p) => context.waitUntil(p) : undefined, env);
      const settings = await resolveSettings(env, config.settings);
      const lease = models.lease();
      try {
        await consumeBatch(batch, { env, settings, models: lease });
      } finally {
        lease.release();
      }
    },
  };
}

/** The path under BASE_PATH; a path outside it is a 404 naming where the routes are. */
function withinBase(pathname, base) {
  if (!base) return pathname;
  if (pathname === base || pathname.startsWith(`${base}/`)) return pathname.slice(base.length) || '/';
  throw new HttpError(404, `no route for ${pathname}: the routes are under ${base}/`);
}

function withCors(request, response, origins) {
  const origin = request.headers.get('origin');
  if (!origin || !(origins.includes('*') || origins.includes(origin))) return response;
  const headers = new Headers(response.headers);
  headers.set('access-control-allow-origin', origins.includes('*') ? '*' : origin);
  headers.append('vary', 'Origin');
  headers.set('access-control-expose-headers', 'inference-header-content-length, edgeinfer-model-version');
  if (request.method === 'OPTIONS') {
    headers.set('access-control-allow-methods', 'GET, POST, OPTIONS');
    headers.set('access-control-allow-headers', CORS_HEADERS);
    headers.set('access-control-max-age', '600');
  }
  return new Response(response.body, { status: response.status, headers });
}
