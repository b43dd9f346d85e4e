// The Durable Object that counts requests where the account has no Rate Limiting binding:
// one object per caller (its id is derived from the caller's key), counting in fixed
// windows of RATE_LIMIT_PERIOD seconds. Its count lives in the object's storage, so it
// survives the object being evicted, and one object's requests are handled one at a time,
// so the count is exact, unlike the binding's. A plain class with `fetch` (no import of
// 'cloudflare:workers'), so that edgeinfer/server still loads outside workerd.

/** Counts one request of the caller this object is for; answers `{ success }`. */
export class RateLimiter {
  #storage;

  constructor(state) {
    this.#storage = state.storage;
  }

  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const limit = Number(params.get('limit'));
    const period = Number(params.get('period'));
    if (!(Number.isInteger(limit) && limit > 0 && Number.isInteger(period) && period > 0))
      return Response.json({ error: 'limit and period must be positive integers' }, { status: 400 });
    const window = Math.floor(Date.now() / 1000 / period);
    const saved = await this.#storage.get('window');
    const count = saved?.window === window ? saved.count : 0;
    if (count >= limit) return Response.json({ success: false });
    await this.#storage.put('window', { window, count: count + 1 });
    return Response.json({ success: true });
  }
}
