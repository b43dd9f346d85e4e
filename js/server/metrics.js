// Prometheus text exposition of this isolate's counters. Each Workers isolate keeps its own,
// and a scrape sees the isolate that answers it: every sample carries an `isolate` label, so
// that each isolate's counters are series of their own, which only ever grow (from 0 when the
// isolate starts), and `sum(rate(...))` over the isolates scraped is what the Worker does.

const BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

let isolate;

/**
 * This isolate's id: 48 random bits, made on first use, because a Worker's module scope
 * (where the handler is made) may not ask for randomness.
 */
export function isolateId() {
  isolate ??= Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('');
  return isolate;
}

const label = (v) => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
/** Prometheus labels from an object, values escaped. */
export const labels = (o) =>
  `{${Object.entries(o)
    .map(([k, v]) => `${k}="${label(v)}"`)
    .join(',')}}`;

export class HttpMetrics {
  #requests = new Map();
  #durations = new Map();
  #loads = new Map();
  #rateLimited = new Map();

  observe(route, status, seconds) {
    const key = `${route}\u0000${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#durations.get(route);
    if (!h) this.#durations.set(route, (h = { buckets: new Array(BUCKETS_S.length).fill(0), sum: 0, count: 0 }));
    BUCKETS_S.forEach((b, i) => {
      if (seconds <= b) h.buckets[i]++;
    });
    h.sum += seconds;
    h.count++;
  }

  modelLoaded(name, version, seconds) {
    this.#loads.set(`${name}\u0000${version}`, seconds);
  }

  /** A request refused by the Rate Limiting binding `limit`, from `principal`. */
  rateLimited(limit, principal) {
    const key = `${limit}\u0000${principal}`;
    this.#rateLimited.set(key, (this.#rateLimited.get(key) ?? 0) + 1);
  }

  /**
   * The exposition text; `extra` is appended (other sections, such as model statistics).
   * `memory`: the bytes each loaded model holds, and the budget (ModelSet's `memory()`).
   */
  render(extra = '', memory = { budget: null, models: [] }) {
    const isolate = isolateId();
    const out = [];
    out.push('# HELP edgeinfer_http_requests_total HTTP requests answered, by route and status.');
    out.push('# TYPE edgeinfer_http_requests_total counter');
    for (const [key, n] of this.#requests) {
      const [route, status] = key.split('\u0000');
      out.push(`edgeinfer_http_requests_total${labels({ route, status, isolate })} ${n}`);
    }
    out.push('# HELP edgeinfer_http_request_duration_seconds Time to answer an HTTP request, by route.');
    out.push('# TYPE edgeinfer_http_request_duration_seconds histogram');
    for (const [route, h] of this.#durations) {
      BUCKETS_S.forEach((b, i) =>
        out.push(`edgeinfer_http_request_duration_seconds_bucket${labels({ route, isolate, le: b })} ${h.buckets[i]}`),
      );
      out.push(`edgeinfer_http_request_duration_seconds_bucket${labels({ route, isolate, le: '+Inf' })} ${h.count}`);
      out.push(`edgeinfer_http_request_duration_seconds_sum${labels({ route, isolate })} ${h.sum}`);
      out.push(`edgeinfer_http_request_duration_seconds_count${labels({ route, isolate })} ${h.count}`);
    }
    out.push('# HELP edgeinfer_rate_limited_total Requests refused (429) by a rate limit, by limit and caller.');
    out.push('# TYPE edgeinfer_rate_limited_total counter');
    for (const [key, n] of this.#rateLimited) {
      const [limit, principal] = key.split('\u0000');
      out.push(`edgeinfer_rate_limited_total${labels({ limit, principal, isolate })} ${n}`);
    }
    out.push('# HELP edgeinfer_model_load_seconds Time this isolate took to load each model.');
    out.push('# TYPE edgeinfer_model_load_seconds gauge');
    for (const [key, s] of this.#loads) {
      const [model, version] = key.split('\u0000');
      out.push(`edgeinfer_model_load_seconds${labels({ model, version, isolate })} ${s}`);
    }
    out.push('# HELP edgeinfer_model_memory_bytes Heap bytes each loaded model holds in this isolate.');
    out.push('# TYPE edgeinfer_model_memory_bytes gauge');
    for (const m of memory.models) {
      out.push(`edgeinfer_model_memory_bytes${labels({ model: m.name, version: m.version, isolate })} ${m.bytes}`);
    }
    if (memory.budget !== null) {
      out.push('# HELP edgeinfer_memory_budget_bytes The memory budget of the loaded models together.');
      out.push('# TYPE edgeinfer_memory_budget_bytes gauge');
      out.push(`edgeinfer_memory_budget_bytes${labels({ isolate })} ${memory.budget}`);
    }
    return `${out.join('\n')}\n${extra}`;
  }
}
