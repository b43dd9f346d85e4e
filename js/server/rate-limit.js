// Rate limits per caller on Cloudflare's Rate Limiting binding ([[ratelimits]] in
// wrangler.toml; wrangler dev runs it locally): an API key counts against the binding it
// names (`rateLimit` in API_KEYS), everyone else against RATE_LIMIT, callers of public
// routes by their IP address. The binding's counters are per Cloudflare location, and
// eventually consistent: a budget, not an exact quota.
import { HttpError } from './http.js';

/** Counts the request; past the caller's limit, a 429 with Retry-After (the window's end). */
export async function rateLimit(request, env, settings, who, anonymous, metrics) {
  const name = who.rateLimit ?? settings.rateLimit.binding;
  if (!name) return;
  const binding = env?.[name];
  if (typeof binding?.limit !== 'function') {
    const whose = who.rateLimit ? `API key '${who.name}' names` : 'RATE_LIMIT names';
    console.error(
      `edgeinfer: server misconfigured: ${whose} the Rate Limiting binding '${name}', which the Worker does not have ([[ratelimits]] in wrangler.toml)`,
    );
    throw new HttpError(500, "server misconfigured (the Worker's logs say how)");
  }
  const key = anonymous ? `ip:${request.headers.get('cf-connecting-ip') ?? 'unknown'}` : `principal:${who.name}`;
  const { success } = await binding.limit({ key });
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
