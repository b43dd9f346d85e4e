// The models a deployment serves, loaded once per isolate as soon as the handler is made
// (at module scope in a Worker), so the first request does not pay for it when it can be avoided.
import { HttpError } from './http.js';
import { instanceLayout } from './instances.js';

export class ModelSet {
  #entries;

  /** `list`: [{ name, version?, load: (options) => Promise<Model>, features? }]; `load` gets the
   * monitoring labels (`{ monitoring: { name, version } }`) to pass on to `Model.load`. */
  constructor(list, metrics) {
    if (!Array.isArray(list) || list.length === 0) throw new Error('createHandler needs models: [{ name, load }]');
    this.#entries = list.map((m) => {
      if (typeof m?.name !== 'string' || typeof m?.load !== 'function')
        throw new Error('each model needs a name and a load() function');
      const entry = {
        name: m.name,
        version: String(m.version ?? '1'),
        features: m.features ?? null,
        model: null,
        error: null,
      };
      const started = performance.now();
      entry.ready = Promise.resolve()
        .then(() => m.load({ monitoring: { name: entry.name, version: entry.version } }))
        .then(
          (model) => {
            entry.model = model;
            entry.layout = instanceLayout(entry, model);
            metrics.modelLoaded(entry.name, entry.version, (performance.now() - started) / 1000);
          },
          (e) => {
            entry.error = e;
          },
        );
      return entry;
    });
  }

  get entries() {
    return this.#entries;
  }

  /**
   * The entry for `name` (the latest version unless `version` is given), loaded; else 404 or
   * 503. The 404 names the models there are only when `reveal` (a caller who may see them).
   */
  async get(name, version, reveal = true) {
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
    await entry.ready;
    if (entry.error)
      throw new HttpError(
        503,
        `model '${name}' version ${entry.version} failed to load: ${entry.error.code ?? 'error'}`,
      );
    return entry;
  }

  async allReady() {
    await Promise.all(this.#entries.map((e) => e.ready));
    return this.#entries.every((e) => e.model);
  }
}
