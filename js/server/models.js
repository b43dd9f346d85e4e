// The models a deployment serves. A Worker's start-up (its module scope) has a time limit that
// loading a mid-size model alone can exceed, so by default nothing loads there: the first
// request starts every model loading in the background (kept alive by its `waitUntil`), and a
// request for a model not yet loaded loads that one on its own path. `loading: 'startup'` loads
// at construction instead, for small models on plans whose requests have little CPU time.
//
// A memory budget bounds the bytes the loaded models hold together (`model.memory()`), since
// an isolate has 128 MB: a model that would take them over it is refused (E_RESOURCE_LIMIT),
// or, with `over: 'evict'`, the least recently used models no request is using are unloaded
// first, to load again when next asked for.
import { HttpError } from './http.js';
import { instanceLayout } from '../table.js';
import { EdgeInferError } from '../core.js';

export const LOADING = ['first-request', 'startup'];
export const OVER_BUDGET = ['refuse', 'evict'];

/** The memory option of `createHandler`, checked: `{ budget: bytes, over }` or null. */
function memoryBudget(memory) {
  if (memory === undefined || memory === null) return null;
  const { budget, over = 'refuse', ...rest } = memory;
  const unknown = Object.keys(rest);
  if (unknown.length)
    throw new Error(`createHandler's memory has no option '${unknown[0]}'; its options are budget and over`);
  if (!Number.isSafeInteger(budget) || budget < 1)
    throw new Error(`createHandler's memory.budget is a positive number of bytes, got ${budget}`);
  if (!OVER_BUDGET.includes(over))
    throw new Error(`createHandler's memory.over is '${over}', expected one of ${OVER_BUDGET.join(', ')}`);
  return { budget, over };
}

const held = (entry) => (entry.model ? entry.model.memory().bytes : 0);

export class ModelSet {
  #entries;
  #metrics;
  #started = false;
  /** The Worker's environment (its bindings, an R2 bucket say), from the first request. */
  #env = {};
  #memory;
  /** Ticks of use, for least-recently-used eviction. */
  #clock = 0;

  /** `list`: [{ name, version?, load: (options, env) => Promise<Model>, features? }]; `load` gets
   * the monitoring labels (`{ monitoring: { name, version } }`) to pass on to `Model.load`, and
   * the Worker's environment (empty when loading at start-up, before any request). */
  constructor(list, metrics, loading = 'first-request', memory = undefined) {
    if (!Array.isArray(list) || list.length === 0) throw new Error('createHandler needs models: [{ name, load }]');
    if (!LOADING.includes(loading))
      throw new Error(`createHandler's loading is '${loading}', expected one of ${LOADING.join(', ')}`);
    this.#metrics = metrics;
    this.#memory = memoryBudget(memory);
    this.#entries = list.map((m) => {
      if (typeof m?.name !== 'string' || typeof m?.load !== 'function')
        throw new Error('each model needs a name and a load() function');
      return {
        name: m.name,
        version: String(m.version ?? '1'),
        features: m.features ?? null,
        load: m.load,
        state: 'unloaded',
        model: null,
        error: null,
        ready: null,
        /** Requests holding the model (`lease`): it is not evicted under them. */
        users: 0,
        used: 0,
      };
    });
    if (loading === 'startup') this.#startAll();
  }

  get entries() {
    return this.#entries;
  }

  /** Loads an entry once; every caller gets the same promise, which never rejects. */
  #start(entry) {
    if (entry.ready) return entry.ready;
    entry.state = 'loading';
    const started = performance.now();
    entry.ready = Promise.resolve()
      .then(() => entry.load({ monitoring: { name: entry.name, version: entry.version } }, this.#env))
      .then((model) => {
        entry.model = model;
        this.#fit(entry);
        entry.layout = instanceLayout(entry, model);
        entry.state = 'ready';
        entry.used = ++this.#clock;
        this.#metrics.modelLoaded(entry.name, entry.version, (performance.now() - started) / 1000);
      })
      .catch((e) => {
        entry.error = e;
        entry.state = 'failed';
        console.error(`edgeinfer: model '${entry.name}' version ${entry.version} failed to load: ${e?.message ?? e}`);
      });
    return entry.ready;
  }

  /**
   * Keeps the models within the memory budget with `entry` just loaded. Under 'evict', idle
   * models are unloaded, least recently used first, and models that requests still use are
   * unloaded when they are released (so the budget can be passed while they finish); only a
   * model bigger than the budget on its own is refused. Under 'refuse', a model that would
   * pass the budget is. A refused model is unloaded, and this throws E_RESOURCE_LIMIT.
   */
  #fit(entry) {
    if (!this.#memory) return;
    const { budget, over } = this.#memory;
    const bytes = held(entry);
    const others = this.#total() - bytes;
    if (over === 'evict' ? bytes <= budget : others + bytes <= budget) {
      this.#evictIdle([entry]);
      return;
    }
    entry.model.dispose();
    entry.model = null;
    throw new EdgeInferError(
      'E_RESOURCE_LIMIT',
      over === 'evict'
        ? `model '${entry.name}' version ${entry.version} holds ${bytes} bytes, more than the memory budget of ${budget} bytes on its own`
        : `model '${entry.name}' version ${entry.version} holds ${bytes} bytes; with the ${others} bytes of the ` +
            `models loaded that exceeds the memory budget of ${budget} bytes`,
    );
  }

  #total() {
    return this.#entries.reduce((sum, e) => sum + held(e), 0);
  }

  /**
   * Under 'evict', unloads idle models, least recently used first, until within budget; never
   * those in `keep`, the model just loaded or just used: a model that grew past the budget on
   * its own (plans for new shapes) keeps serving.
   */
  #evictIdle(keep) {
    if (this.#memory?.over !== 'evict') return;
    const idle = this.#entries
      .filter((e) => !keep.includes(e) && e.state === 'ready' && e.users === 0)
      .sort((a, b) => a.used - b.used);
    while (this.#total() > this.#memory.budget && idle.length) this.#unload(idle.shift());
  }

  /** Frees an entry's model; the next request for it loads it again. */
  #unload(entry) {
    entry.model.dispose();
    Object.assign(entry, { model: null, state: 'unloaded', ready: null });
    console.warn(`edgeinfer: model '${entry.name}' version ${entry.version} unloaded to keep within the memory budget`);
  }

  #startAll() {
    this.#started = true;
    return Promise.all(this.#entries.map((e) => this.#start(e)));
  }

  /**
   * Starts every model loading after the current request has been answered (a timer, so that
   * the request's own work goes first), once per isolate. `waitUntil` keeps the isolate
   * running until they are loaded; `env` is what later loads get.
   */
  startInBackground(waitUntil, env) {
    if (env && this.#env !== env) this.#env = env;
    if (this.#started) return;
    this.#started = true;
    const all = new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.#startAll());
    waitUntil?.(all);
  }

  /**
   * The entry for `name` (the latest version unless `version` is given), not waiting for it to
   * load; else 404. The 404 names the models there are only when `reveal` (a caller who may
   * see them).
   */
  find(name, version, reveal = true) {
    const named = this.#entries.filter((e) => e.name === name);
    const there = (list) => (reveal ? `; ${list}` : '');
    if (!named.length)
      throw new HttpError(
        404,
        `unknown model '${name}'${there(`the models are ${[...new Set(this.#entries.map((e) => e.name))].join(', ')}`)}`,
      );
    const entry = version === undefined ? named[named.length - 1] : named.find((e) => e.version === version);
    if (!entry)
      throw new HttpError(
        404,
        `model '${name}' has no version '${version}'${there(`its versions are ${named.map((e) => e.version).join(', ')}`)}`,
      );
    return entry;
  }

  /**
   * The entry as `find` gives it, loaded (on this request's path if need be); else 503. With
   * `leased` (a request's list), the entry is counted as in use from the moment it is ready.
   */
  async get(name, version, reveal = true, leased = null) {
    const entry = this.find(name, version, reveal);
    // An evicted model loads again, however often it was evicted while this request waited.
    while (entry.state !== 'ready' && !entry.error) await this.#start(entry);
    if (entry.error)
      throw new HttpError(
        503,
        `model '${name}' version ${entry.version} failed to load: ${entry.error.code ?? 'error'}`,
      );
    entry.used = ++this.#clock;
    if (leased) {
      entry.users++;
      leased.push(entry);
    }
    return entry;
  }

  /**
   * The set as one request sees it: the models it gets are not evicted until `release`,
   * which the server calls once the request is answered.
   */
  lease() {
    const leased = [];
    return {
      entries: this.#entries,
      find: (...args) => this.find(...args),
      states: () => this.states(),
      memory: () => this.memory(),
      get: (name, version, reveal = true) => this.get(name, version, reveal, leased),
      release: () => {
        const released = leased.splice(0);
        for (const entry of released) entry.users--;
        this.#evictIdle(released);
      },
    };
  }

  /** The bytes each loaded model holds, and the budget if there is one. */
  memory() {
    return {
      budget: this.#memory?.budget ?? null,
      models: this.#entries.filter((e) => e.model).map((e) => ({ name: e.name, version: e.version, bytes: held(e) })),
    };
  }

  /** Each model's state, without waiting: unloaded, loading, ready or failed (with its code). */
  states() {
    return this.#entries.map((e) => ({
      name: e.name,
      version: e.version,
      state: e.state,
      ...(e.error ? { error: e.error.code ?? 'error' } : {}),
    }));
  }
}
