// Rate limits per caller on Cloudflare's Rate Limiting binding ([[ratelimits]] in
// wrangler.toml; wrangler dev runs it locally), or, where the account has none, on a
// Durable Object namespace of RateLimiter (./rate-limiter.js) allowing RATE_LIMIT_REQUESTS
// a window: an API key counts against the binding it names (`rateLimit` in API_KEYS),
// everyone else against RATE_LIMIT, callers of public routes by their IP address. The Rate
// Limiting binding's counters are per Cloudflare location and eventually consistent (a
// budget, not an exact quota); a Durable Object's are exact and global.
import { HttpError } from './http.js';

/**
 * How to count a request of `key` against `binding`: `limit` of a Rate Limiting binding, or
 * the RateLimiter object for the key in a Durable Object namespace; a string saying what is
 * missing when it is neither.
 */
function counter(binding, { requests, period }) {
  if (typeof binding?.limit === 'function') return (key) => binding.limit({ key });
  if (typeof binding?.idFromName !== 'function')
    return 'which the Worker does not have (a [[ratelimits]] binding, or a Durable Object namespace of RateLimiter)';
  if (!requests) return 'a Durable Object namespace, and RATE_LIMIT_REQUESTS (requests a window) is not set';
  return async (key) => {
    const stub = binding.get(binding.idFromName(key));
    const r = await stub.fetch(`https://rate-limiter/?limit=${requests}&period=${period}`);
    if (!r.ok) throw new Error(`the RateLimiter object answered ${r.status}: ${await r.text()}`);
    return r.json();
  };
}

/** Counts the request; past the caller's limit, a 429 with Retry-After (the window's end). */
export async function rateLimit(request, env, settings, who, anonymous, metrics) {
  const name = who.rateLimit ?? settings.rateLimit.binding;
  if (!name) return;
  const count = counter(env?.[name], settings.rateLimit);
  if (typeof count === 'string') {
    const whose = who.rateLimit ? `API key '${who.name}' names` : 'RATE_LIMIT names';
    console.error(`edgeinfer: server misconfigured: ${whose} the rate limit binding '${name}', ${count}`);
    throw new HttpError(500, "server misconfigured (the Worker's logs say how)");
  }
  const key = anonymous ? `ip:${request.headers.get('cf-connecting-ip') ?? 'unknown'}` : `principal:${who.name}`;
  let success;
  try {
    ({ success } = await count(key));
  } catch (e) {
    // Neither let through uncounted nor a 500: the caller may retry.
    console.error(`edgeinfer: rate limit '${name}' could not count a request: ${e?.message ?? e}`);
    throw new HttpError(503, 'the rate limiter is unavailable; retry shortly', { 'retry-after': '1' });
  }
  if (success) return;
  metrics.rateLimited(name, anonymous ? 'anonymous' : who.name);
  const period = settings.rateLimit.period;
  const retry = period - (Math.floor(Date.now() / 1000) % period);
  const caller = anonymous ? 'this address' : `'${who.name}'`;
  throw new HttpError(
    429,
    `rate limit reached: ${caller} made more requests than the limit '${name}' allows in ${period} s; retry after ${retry} s`,
    { 'retry-after': String(retry) },
  );
}
