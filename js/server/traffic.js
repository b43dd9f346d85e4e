// Traffic policies: which version of a model answers a request that names none. A policy
// `{ production, candidate, canary, shadow, sticky }` sends `canary` percent of callers to the
// candidate (the same callers every time: a hash of their sticky key), and runs the candidate
// beside production on `shadow` percent of the requests production answers, after the
// response, comparing the two answers (`Shadows`). Policies come from createHandler's
// `traffic` option and, where a KV namespace is bound (TRAFFIC_KV), from KV, which
// `PUT /v2/models/{name}/traffic` writes; each isolate reads KV again once its copy is
// TRAFFIC_REFRESH_SECONDS old.
import { HttpError } from './http.js';
import { labels } from './metrics.js';

export const POLICY_FIELDS = ['production', 'candidate', 'canary', 'shadow', 'sticky'];

/** The KV key of a model's policy. */
const key = (name) => `edgeinfer/traffic/${name}`;

/**
 * `policy` made whole and checked against the model's `versions` (oldest first): production
 * (default: the latest version), a candidate or null, the canary and shadow percents (default
 * 0; above 0 they need a candidate) and the sticky key: 'principal' (the API key's name or
 * the JWT's subject) or 'header:NAME'. Throws an Error that names what is wrong.
 */
export function checkPolicy(name, policy, versions) {
  const fields = POLICY_FIELDS.join(', ');
  if (!policy || typeof policy !== 'object' || Array.isArray(policy))
    throw new Error(`the traffic policy of '${name}' is an object of ${fields}`);
  for (const k of Object.keys(policy))
    if (!POLICY_FIELDS.includes(k)) throw new Error(`a traffic policy has no field '${k}'; its fields are ${fields}`);
  const version = (field) => {
    const v = policy[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' && !Number.isFinite(v))
      throw new Error(`${field} is a version of '${name}' (a string), got ${JSON.stringify(v)}`);
    if (!versions.includes(String(v)))
      throw new Error(
        `${field} is version '${v}', which is not served; the versions of '${name}' are ${versions.join(', ')}`,
      );
    return String(v);
  };
  const production = version('production') ?? versions.at(-1);
  const candidate = version('candidate');
  if (candidate === production) throw new Error(`the candidate is version '${candidate}', which is production`);
  const percent = (field) => {
    const v = policy[field] ?? 0;
    if (typeof v !== 'number' || !(v >= 0 && v <= 100))
      throw new Error(`${field} is a percent from 0 to 100, got ${JSON.stringify(v)}`);
    if (v > 0 && candidate === null) throw new Error(`${field} is ${v}%, of a candidate: name one`);
    return v;
  };
  const sticky = policy.sticky ?? 'principal';
  if (sticky !== 'principal' && !/^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(sticky))
    throw new Error(`sticky is 'principal' or 'header:NAME', got ${JSON.stringify(sticky)}`);
  return { production, candidate, canary: percent('canary'), shadow: percent('shadow'), sticky };
}

/** A hash of `text` to [0, 100), spread well enough that close keys land far apart. */
function percentile(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  // murmur3's finaliser: FNV-1a alone leaves keys that differ in their last character close.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) % 10000) / 100;
}

export class Traffic {
  /** name -> the policy createHandler was given. */
  #deployed = new Map();
  /** name -> { value: Promise<{ policy, source }>, at }: the last read of KV. */
  #read = new Map();
  #versions;

  /** `config`: createHandler's `traffic` ({ name: policy }); `entries` the models served. */
  constructor(config, entries) {
    this.#versions = (name) => entries.filter((e) => e.name === name).map((e) => e.version);
    if (config === undefined || config === null) return;
    if (typeof config !== 'object' || Array.isArray(config)) throw new Error('traffic maps model names to policies');
    for (const [name, policy] of Object.entries(config)) {
      if (!this.#versions(name).length) throw new Error(`traffic names '${name}', which is not a model served`);
      try {
        this.#deployed.set(name, checkPolicy(name, policy, this.#versions(name)));
      } catch (e) {
        throw new Error(`traffic for '${name}': ${e.message}`, { cause: e });
      }
    }
  }

  /**
   * The policy in force for `name`: `{ policy, source }`, where source is 'kv', 'config' or
   * 'none' (no policy: requests go to the latest version). A policy in KV that no longer fits
   * the versions served is logged and passed over.
   */
  current(name, env, settings) {
    const deployed = this.#deployed.has(name)
      ? { policy: this.#deployed.get(name), source: 'config' }
      : { policy: null, source: 'none' };
    const kv = env?.[settings.traffic.binding];
    if (!kv) return Promise.resolve(deployed);
    const held = this.#read.get(name);
    if (held && Date.now() - held.at < settings.traffic.refreshSeconds * 1000) return held.value;
    const used = kv
      .get(key(name), 'json')
      .then((stored) =>
        stored === null ? deployed : { policy: checkPolicy(name, stored, this.#versions(name)), source: 'kv' },
      )
      .catch((e) => {
        console.error(`edgeinfer: the traffic policy of '${name}' in KV is not used: ${e.message}`);
        return held ? held.value : deployed;
      });
    this.#read.set(name, { value: used, at: Date.now() });
    return used;
  }

  /**
   * Changes `name`'s policy: `change` is merged over the policy in force, checked, written to
   * KV and logged (who, before, after). 400 for a policy that does not hold, 409 without KV.
   */
  async update(name, change, env, settings, who) {
    const kv = env?.[settings.traffic.binding];
    if (!kv)
      throw new HttpError(
        409,
        `traffic policies are changed in a KV namespace, and none is bound as '${settings.traffic.binding}' (TRAFFIC_KV)`,
      );
    if (!change || typeof change !== 'object' || Array.isArray(change))
      throw new HttpError(400, `the request body is a JSON object of some of ${POLICY_FIELDS.join(', ')}`);
    this.#read.delete(name);
    const before = (await this.current(name, env, settings)).policy;
    let after;
    try {
      after = checkPolicy(name, { ...before, ...change }, this.#versions(name));
    } catch (e) {
      throw new HttpError(400, e.message);
    }
    await kv.put(key(name), JSON.stringify(after));
    this.#read.set(name, { value: Promise.resolve({ policy: after, source: 'kv' }), at: Date.now() });
    console.log(
      JSON.stringify({ audit: 'traffic', model: name, by: who.name, before, after, at: new Date().toISOString() }),
    );
    return after;
  }
}

/**
 * The version a request that names none goes to under `policy`: the candidate for the canary
 * share of sticky keys, else production; undefined without a policy (the latest version).
 */
export function route(name, policy, request, who) {
  if (!policy) return undefined;
  if (policy.candidate === null || policy.canary === 0) return policy.production;
  const sticky =
    policy.sticky === 'principal' ? who.name : (request.headers.get(policy.sticky.slice('header:'.length)) ?? who.name);
  return percentile(`${name}\u0000${sticky}`) < policy.canary ? policy.candidate : policy.production;
}

/**
 * How two answers to the same feeds compare, output by output where both have it: labels
 * (integers, strings, booleans) equal or not, and scores (floats, maps of class to score) by
 * their absolute difference.
 */
export function compareOutputs(a, b) {
  const result = { labels: 0, agreed: 0, scores: 0, difference: 0, largest: 0 };
  const score = (x, y) => {
    const d = Math.abs(Number(x) - Number(y));
    result.scores++;
    result.difference += d;
    if (!(d <= result.largest)) result.largest = d;
  };
  for (const [name, x] of Object.entries(a)) {
    const y = b[name];
    if (!y || y.dtype !== x.dtype || x.data.length !== y.data.length) continue;
    if (x.dtype === 'map')
      x.data.forEach((row, i) => {
        for (const [k, v] of Object.entries(row)) if (k in y.data[i]) score(v, y.data[i][k]);
      });
    else if (x.dtype.startsWith('float')) for (let i = 0; i < x.data.length; i++) score(x.data[i], y.data[i]);
    else
      for (let i = 0; i < x.data.length; i++) {
        result.labels++;
        if (x.data[i] === y.data[i]) result.agreed++;
      }
  }
  return result;
}

/** Shadow runs waiting for the isolate to be idle, at most; past it a new one is skipped. */
const SHADOW_QUEUE = 64;
/** How long a shadow run may wait for an idle moment before it is skipped, in ms. */
const SHADOW_WAIT_MS = 5000;

/**
 * Shadow runs, and what they showed, per model and pair of versions, in this isolate. A run
 * waits until no request is in flight (`idle`), so that shadowing takes no CPU from the
 * requests it shadows: under sustained load, runs wait in a bounded queue, and those that
 * cannot be had in time are skipped and counted.
 */
export class Shadows {
  #pairs = new Map();
  #queue = [];
  #idle;
  #draining = false;

  /** `idle`: whether the isolate has no request in flight. */
  constructor(idle) {
    this.#idle = idle;
  }

  /**
   * Queues `run` (async, resolving to `{ compared, seconds }` of the candidate) for production
   * `seconds`; resolves once it has run, failed or been skipped (for `waitUntil`).
   */
  enqueue(name, production, candidate, seconds, run) {
    const p = this.#pair(name, production, candidate);
    if (this.#queue.length >= SHADOW_QUEUE) {
      p.skipped++;
      return Promise.resolve();
    }
    return new Promise((done) => {
      this.#queue.push({ p, seconds, run, done, at: performance.now() });
      this.wake();
    });
  }

  /** Runs queued shadows if the isolate is idle (the server calls it as each request ends). */
  wake() {
    if (this.#draining || !this.#queue.length) return;
    this.#draining = true;
    setTimeout(() => this.#drain(), 0);
  }

  async #drain() {
    while (this.#queue.length && this.#idle()) {
      const job = this.#queue.shift();
      const { p } = job;
      if (performance.now() - job.at > SHADOW_WAIT_MS) p.skipped++;
      else
        try {
          const { compared, seconds } = await job.run();
          p.requests++;
          p.labels += compared.labels;
          p.agreed += compared.agreed;
          p.scores += compared.scores;
          p.difference += compared.difference;
          p.largest = Math.max(p.largest, compared.largest);
          p.productionSeconds += job.seconds;
          p.candidateSeconds += seconds;
        } catch (e) {
          p.requests++;
          p.failures++;
          console.warn(
            `edgeinfer: shadow request to model '${p.name}' version ${p.candidate} failed: ${e?.code ?? 'error'}: ${e?.message ?? e}`,
          );
        }
      job.done();
    }
    this.#draining = false;
    // Jobs left wait for the next request to end; one too old by then is skipped.
  }

  #pair(name, production, candidate) {
    const id = `${name}\u0000${production}\u0000${candidate}`;
    let p = this.#pairs.get(id);
    if (!p)
      this.#pairs.set(
        id,
        (p = {
          name,
          production,
          candidate,
          requests: 0,
          failures: 0,
          skipped: 0,
          labels: 0,
          agreed: 0,
          scores: 0,
          difference: 0,
          largest: 0,
          productionSeconds: 0,
          candidateSeconds: 0,
        }),
      );
    return p;
  }

  /** GET /v2/models/{name}/compare: one entry per pair of versions shadowed. */
  report(name) {
    return [...this.#pairs.values()]
      .filter((p) => p.name === name)
      .map((p) => {
        const answered = p.requests - p.failures;
        return {
          production: p.production,
          candidate: p.candidate,
          requests: p.requests,
          candidate_failures: p.failures,
          skipped: p.skipped,
          label_agreement: p.labels ? p.agreed / p.labels : null,
          labels_compared: p.labels,
          score_difference: p.scores ? { mean: p.difference / p.scores, max: p.largest } : null,
          scores_compared: p.scores,
          latency_ms: answered
            ? { production: (1000 * p.productionSeconds) / answered, candidate: (1000 * p.candidateSeconds) / answered }
            : null,
        };
      });
  }

  /** The Prometheus families: counters that only grow, labelled by model, versions and isolate. */
  exposition(isolate) {
    /** @type {Array<[string, string, (p: any) => number]>} */
    const families = [
      ['requests', 'Requests the candidate also ran on (shadow traffic).', (p) => p.requests],
      ['failures', 'Shadowed requests the candidate failed.', (p) => p.failures],
      ['skipped', 'Requests to shadow that found no idle moment in time (or a full queue).', (p) => p.skipped],
      ['labels', 'Labels compared between production and candidate.', (p) => p.labels],
      ['label_agreements', 'Labels production and candidate gave alike.', (p) => p.agreed],
      ['scores', 'Scores compared between production and candidate.', (p) => p.scores],
      ['score_difference', 'Sum of absolute differences of the scores compared.', (p) => p.difference],
    ];
    const out = [];
    for (const [what, help, value] of families) {
      out.push(`# HELP edgeinfer_shadow_${what}_total ${help}`, `# TYPE edgeinfer_shadow_${what}_total counter`);
      for (const p of this.#pairs.values())
        out.push(
          `edgeinfer_shadow_${what}_total${labels({ model: p.name, production: p.production, candidate: p.candidate, isolate })} ${value(p)}`,
        );
    }
    return `${out.join('\n')}\n`;
  }
}
