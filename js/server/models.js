// The models a deployment serves. A Worker's start-up (its module scope) has a time limit that
// loading a mid-size model alone can exceed, so by default nothing loads there: the first
// request starts every model loading in the background (kept alive by its `waitUntil`), and a
// request for a model not yet loaded loads that one on its own path. `loading: 'startup'` loads
// at construction instead, for small models on plans whose requests have little CPU time.
import { HttpError } from './http.js';
import { instanceLayout } from './instances.js';

export const LOADING = ['first-request', 'startup'];

export class ModelSet {
  #entries;
  #metrics;
  #started = false;
  /** The Worker's environment (its bindings, an R2 bucket say), from the first request. */
  #env = {};

  /** `list`: [{ name, version?, load: (options, env) => Promise<Model>, features? }]; `load` gets
   * the monitoring labels (`{ monitoring: { name, version } }`) to pass on to `Model.load`, and
   * the Worker's environment (empty when loading at start-up, before any request). */
  constructor(list, metrics, loading = 'first-request') {
    if (!Array.isArray(list) || list.length === 0) throw new Error('createHandler needs models: [{ name, load }]');
    if (!LOADING.includes(loading))
      throw new Error(`createHandler's loading is '${loading}', expected one of ${LOADING.join(', ')}`);
    this.#metrics = metrics;
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
      .then(
        (model) => {
          entry.model = model;
          entry.layout = instanceLayout(entry, model);
          entry.state = 'ready';
          this.#metrics.modelLoaded(entry.name, entry.version, (performance.now() - started) / 1000);
        },
        (e) => {
          entry.error = e;
          entry.state = 'failed';
          console.error(`edgeinfer: model '${entry.name}' version ${entry.version} failed to load: ${e?.message ?? e}`);
        },
      );
    return entry.ready;
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

  /** The entry as `find` gives it, loaded (on this request's path if need be); else 503. */
  async get(name, version, reveal = true) {
    const entry = this.find(name, version, reveal);
    await this.#start(entry);
    if (entry.error)
      throw new HttpError(
        503,
        `model '${name}' version ${entry.version} failed to load: ${entry.error.code ?? 'error'}`,
      );
    return entry;
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
