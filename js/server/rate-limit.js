// Rate limits per caller on Cloudflare's Rate Limiting binding ([[ratelimits]] in
// wrangler.toml; wrangler dev runs it locally), or, where the account has none, on a
// Durable Object namespace of RateLimiter (./rate-limiter.js) allowing RATE_LIMIT_REQUESTS
// a window: an API key counts against the binding it names (`rateLimit` in API_KEYS),
// everyone else against RATE_LIMIT, callers of public routes by their IP address, and failed
// authentications by IP address too, in a budget of their own. The Rate
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
  const binding = who.rateLimit ?? settings.rateLimit.binding;
  if (!binding) return;
  const whose = who.rateLimit ? `API key '${who.name}' names` : 'RATE_LIMIT names';
  const caller = anonymous
    ? { key: `ip:${address(request)}`, principal: 'anonymous', says: 'this address' }
    : { key: `principal:${who.name}`, principal: who.name, says: `'${who.name}'` };
  await limit(env, settings, binding, whose, caller, metrics);
}

/**
 * Counts a failed authentication against RATE_LIMIT by the caller's address, in a budget of
 * its own (public routes' callers are not charged for it): past the limit, guesses at keys or
 * tokens get 429 instead of an answer saying whether they were right.
 */
export async function rateLimitFailedAuthentication(request, env, settings, metrics) {
  const binding = settings.rateLimit.binding;
  if (!binding) return;
  const caller = {
    key: `failed-authentication:ip:${address(request)}`,
    principal: 'unauthenticated',
    says: 'this address',
    what: 'failed authentications',
  };
  await limit(env, settings, binding, 'RATE_LIMIT names', caller, metrics);
}

function address(request) {
  return request.headers.get('cf-connecting-ip') ?? 'unknown';
}

async function limit(env, settings, name, whose, caller, metrics) {
  const count = counter(env?.[name], settings.rateLimit);
  if (typeof count === 'string') {
    console.error(`edgeinfer: server misconfigured: ${whose} the rate limit binding '${name}', ${count}`);
    throw new HttpError(500, "server misconfigured (the Worker's logs say how)");
  }
  let success;
  try {
    ({ success } = await count(caller.key));
  } catch (e) {
    // Neither let through uncounted nor a 500: the caller may retry.
    console.error(`edgeinfer: rate limit '${name}' could not count a request: ${e?.message ?? e}`);
    throw new HttpError(503, 'the rate limiter is unavailable; retry shortly', { 'retry-after': '1' });
  }
  if (success) return;
  metrics.rateLimited(name, caller.principal);
  const period = settings.rateLimit.period;
  const retry = period - (Math.floor(Date.now() / 1000) % period);
  throw new HttpError(
    429,
    `rate limit reached: ${caller.says} made more ${caller.what ?? 'requests'} than the limit '${name}' allows in ${period} s; retry after ${retry} s`,
    { 'retry-after': String(retry) },
  );
}
