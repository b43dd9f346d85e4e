// The public API, the same in every runtime. Each entry point (node.js, browser.js,
// workerd.js) supplies two things this module cannot know: how to start the wasm module
// and how to turn a model source (path, URL, Response, bytes) into bytes.
import * as unthreaded from '../dist/edgeinfer.js';
import { restoreSnapshot } from './snapshot.js';
import { THREADS_FILE, WASM_FILES, hasRelaxedSimd, isThreadsBuild } from './variant.js';
import { DTYPES } from './dtypes.js';
import { TableError, predictRows, recordTable } from './table.js';

/**
 * The wasm-bindgen glue of the build that runs: the unthreaded builds share one; the threads
 * build's (which imports a shared memory, and starts and stops its team) replaces it when
 * `init` chooses that build.
 * @type {typeof unthreaded & Partial<Pick<typeof import('../dist/edgeinfer_threads.js'), 'startThreads' | 'stopThreads'>>}
 */
let glue = unthreaded;

/** Predictions that wait for a timer to specialise before they do it themselves. */
const SPECIALIZE_INLINE_AFTER = 8;

/** Where the core puts a prediction's id on its outputs (see `predictionId`). */
const PREDICTION_ID = Symbol.for('edgeinfer.predictionId');

/**
 * The id of the prediction that made `outputs`, for `model.feedback`; undefined when the
 * model is not monitored. The id sits under a symbol, so iterating the outputs, `Object.keys`
 * and `JSON.stringify` see only the outputs.
 */
export function predictionId(outputs) {
  const parts = outputs?.[PREDICTION_ID];
  if (!Array.isArray(parts)) return undefined;
  // The core's parts: the instance, then the token's 96 bits in three 32-bit pieces.
  const [instance, ...token] = parts.map((part) => part.toString(16).padStart(8, '0'));
  return `${instance}-${token.join('')}`;
}

/** An Error with a stable `code`, like the ones the wasm core throws. */
export class EdgeInferError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'EdgeInferError';
    this.code = code;
  }
}

/**
 * For `edgeinfer batch` (not exported by the entry points; the wasm must be started): a
 * chunk of CSV (UTF-8 bytes) read into a float32 matrix of the `columns` (indices into `header`), with
 * the lines of the rows read, their `kept` fields, and `[line, reason]` for the others.
 */
export function readCsvFloats(bytes, header, columns, kept, firstLine) {
  const [values, lines, keptFields, rejects] = call(() =>
    glue.readCsvFloats(bytes, header, Uint32Array.from(columns), Uint32Array.from(kept), firstLine),
  );
  return { values, lines, kept: keptFields, rejects };
}

/**
 * For `edgeinfer batch`: a float32 matrix of `width` columns as CSV text, each value after a
 * comma in the fewest digits that read back as the same float32 (NaN empty), one line a row.
 */
export function csvFloat32Cells(values, width) {
  return call(() => glue.csvFloat32Cells(values, width));
}

/** For the package's own tests (not exported by the entry points): a Rust panic caught at the boundary. */
export function testPanic() {
  return call(() => glue.__testPanic());
}

/**
 * The dist/ file of the build `simd` asks for ('auto': the best the engine runs of the
 * runtime's `variants`), or undefined when the caller gives the wasm.
 */
/** @param {{ variants: string[], otherBuilds?: string }} platform */
function chooseVariant(simd, wasm, platform) {
  const { variants, otherBuilds } = platform;
  if (!['auto', ...Object.keys(WASM_FILES)].includes(simd))
    throw new EdgeInferError(
      'E_INVALID_OPTION',
      `the simd option is 'auto', 'relaxed-simd' or 'simd128', got ${typeof simd === 'string' ? `'${simd}'` : describe(simd)}`,
    );
  if (wasm != null) {
    if (simd === 'auto') return undefined;
    throw new EdgeInferError(
      'E_INVALID_OPTION',
      "the simd option chooses among the package's own builds: with the wasm option, the module given runs as it is",
    );
  }
  const runnable = variants.filter((v) => v !== 'relaxed-simd' || hasRelaxedSimd());
  if (simd === 'auto') return WASM_FILES[runnable[0]];
  if (runnable.includes(simd)) return WASM_FILES[simd];
  const why = variants.includes(simd)
    ? 'this engine lacks relaxed SIMD (Node 20 has it behind --experimental-wasm-relaxed-simd)'
    : `this entry point starts only ${variants.join(' or ') || 'its own build'}: ${otherBuilds}`;
  throw new EdgeInferError('E_INVALID_OPTION', `simd: '${simd}' cannot run here: ${why}`);
}

/**
 * What an entry point supplies to `createApi`.
 * @typedef {object} Platform
 * @property {(wasm: any, glue: { initWasm: Function, initSync: Function, file: string }) => Promise<any> | any} startWasm
 * @property {(source: any, options: object) => Promise<Uint8Array>} readSource
 * @property {(wasm: any) => boolean} acceptsWasm
 * @property {string} wasmForms
 * @property {string[]} variants
 * @property {string} [otherBuilds]
 * @property {ThreadPlatform} [threads]
 */

/**
 * A runtime's threads: its cores, the threads build's glue, and how to start a team thread
 * on a Worker (`lost` is called if it dies once it runs).
 * @typedef {object} ThreadPlatform
 * @property {() => number} cores
 * @property {() => Promise<any>} glue
 * @property {(data: { module: WebAssembly.Module, memory: WebAssembly.Memory }, lost: () => void) => void} spawn
 */

/** The most threads the threads option may ask for. */
const MAX_THREADS = 64;

/**
 * The threads the `threads` option asks the instance to start: 'auto' (the default) is one
 * per core, at most four, where the runtime can start Workers (`platform.threads`), else 1.
 */
function threadsWanted(threads, platform) {
  if (threads === undefined || threads === 'auto') return platform.threads ? Math.min(4, platform.threads.cores()) : 1;
  if (Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS) return threads;
  throw new EdgeInferError(
    'E_INVALID_OPTION',
    `the threads option is 'auto' or a whole number from 1 to ${MAX_THREADS}, got ${typeof threads === 'string' ? `'${threads}'` : typeof threads === 'number' ? threads : describe(threads)}`,
  );
}

/** Whether `v` is a BufferSource: an ArrayBuffer or a view of one. */
export const isBytes = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

/**
 * Builds the API for one runtime: the entry points export its `Model`, `init` and
 * `buildReference`; the rest (opening bundles, bundle tools) is for the package's own modules.
 * `acceptsWasm` says which forms of the `wasm` option the runtime takes, `wasmForms` names them;
 * `variants` are the builds of the core it can start on its own (js/variant.js), best first,
 * `otherBuilds` says where the others are, and `startWasm` gets the chosen one's file name in
 * dist/ when no `wasm` is given. `threads`, where the runtime can start Workers, starts them.
 * @param {Platform} platform
 */
export function createApi(platform) {
  let started = null;
  /**
   * The instance's exports and the compiled module it was started from, while the instance
   * holds nothing (no model, no bundle tool has run): only then may a bundle's snapshot be
   * written over its memory. Null from the first load on.
   */
  let fresh = null;

  /**
   * Starts the wasm module once; `wasm` overrides where it comes from, `simd` which of the
   * package's builds it is, `threads` how many threads it may use. Resolves to `{ simd,
   * threads }`: the variant that runs, and the most threads a model can have.
   */
  async function init(options = {}) {
    const wasm = options?.wasm;
    if (wasm != null && !platform.acceptsWasm(wasm)) {
      const given =
        typeof wasm === 'string' ? `'${wasm}'` : wasm instanceof URL ? `the URL ${wasm.href}` : describe(wasm);
      throw new EdgeInferError('E_INVALID_OPTION', `the wasm option takes ${platform.wasmForms}, got ${given}`);
    }
    const simd = options?.simd ?? 'auto';
    const file = chooseVariant(simd, wasm, platform);
    const threads = threadsWanted(options?.threads, platform);
    const running = started && simd !== 'auto' ? (await started).simd : simd;
    if (running !== simd)
      throw new EdgeInferError(
        'E_INVALID_OPTION',
        `simd: '${simd}' cannot be had: the module already started as ${running}, and the build is chosen at the first init or load`,
      );
    started ??= (async () => {
      try {
        // A threads build given as the module (a bundle built with --threads) runs on the
        // threads build's glue, whatever the thread count; it needs the runtime's Workers.
        if (wasm instanceof WebAssembly.Module && isThreadsBuild(wasm)) {
          if (!platform.threads)
            throw new Error(
              'the module is the threads build, which needs SharedArrayBuffer and Workers: Node, or a cross-origin isolated page',
            );
          return { simd: 'relaxed-simd', threads: await startThreaded(threads, wasm) };
        }
        // Threads need the relaxed-SIMD build's engine (the threads build has relaxed SIMD)
        // and the runtime's Workers; where either is missing, or the threads build will not
        // start, one thread it is.
        if (threads > 1 && file === WASM_FILES['relaxed-simd'] && platform.threads) {
          const team = await startThreaded(threads).catch(() => 0);
          if (team) return { simd: glue.simdVariant(), threads: team };
        }
        await startOn(unthreaded, wasm, file);
        return { simd: glue.simdVariant(), threads: 1 };
      } catch (e) {
        started = null;
        throw new EdgeInferError('E_WASM_LOAD', `cannot start the edgeinfer WebAssembly module: ${e?.message ?? e}`, {
          cause: e,
        });
      }
    })();
    return { ...(await started) };
  }

  /**
   * Starts `wasm`, or the package's `file` when it is not given, on the glue `on` (a build's
   * wasm-bindgen glue), through which every later call goes.
   */
  async function startOn(on, wasm, file) {
    const exports = await platform.startWasm(wasm, { initWasm: on.default, initSync: on.initSync, file });
    glue = on;
    fresh = wasm instanceof WebAssembly.Module && exports?.memory ? { exports, module: wasm } : null;
  }

  /**
   * Starts the threads build (the package's, or `wasm`) and sets a team of `threads - 1`
   * Workers to start beside this thread (`startTeam`). Resolves to the threads a model can
   * have.
   */
  async function startThreaded(threads, wasm) {
    await startOn(await platform.threads.glue(), wasm, THREADS_FILE);
    team = threads - 1;
    // Without a bundle's snapshot to come, the team starts now, so that its Workers are
    // running by the first prediction.
    return fresh || startTeam() ? threads : 1;
  }

  /**
   * Team threads to start once the memory is the instance's for good: a bundle's snapshot
   * written over it would take the stacks and thread-locals of threads started before.
   */
  let team = 0;

  /**
   * Starts the team, if one waits; whether it started. It does not wait for the Workers:
   * operators use those that run (src/threads.rs). When the team cannot be made, models run
   * on this thread: the core caps their threads at what it has.
   */
  function startTeam() {
    const threads = team;
    team = 0;
    if (threads === 0) return false;
    try {
      glue.startThreads(threads, (module, memory) =>
        platform.threads.spawn({ module, memory }, () => glue.stopThreads()),
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Starts the instance for a call that leaves state in it. */
  async function claim(options) {
    await init(options);
    fresh = null;
    startTeam();
  }

  class Model {
    #wasm;
    #inputs;
    #outputs;
    #metadata;
    #manifest;
    /** Where prediction log lines go as they are made (monitoring.log.sink), if anywhere. */
    #sink;
    /** Input name to its position, for `stage`. */
    #inputIndex;
    #loadedFrom;
    /** Predictions since a timer was asked to build specialised plans, while it has not run. */
    #waiting = 0;
    #specializing = false;
    #threads;

    /** Use `Model.load`. */
    constructor(wasm, sink, threads, loadedFrom = 'onnx') {
      this.#wasm = wasm;
      this.#sink = sink;
      this.#loadedFrom = loadedFrom;
      // 'auto' is every thread the instance started (the core caps any number at that).
      this.#threads = wasm.setThreads(threads === undefined || threads === 'auto' ? MAX_THREADS : threads);
      this.#inputs = freezeInfos(wasm.inputs());
      this.#outputs = freezeInfos(wasm.outputs());
      this.#metadata = Object.freeze(wasm.metadata());
      const manifest = wasm.manifest();
      this.#manifest = manifest === undefined ? null : deepFreeze(JSON.parse(manifest));
    }

    /**
     * Loads an ONNX model from bytes, a Response, or a URL / path.
     * @param {any} source
     * @param {any} [options]
     * @returns {Promise<Model>}
     */
    static async load(source, options = {}) {
      if (options === null || typeof options !== 'object') {
        throw new EdgeInferError('E_INVALID_OPTION', `options must be an object, got ${describe(options)}`);
      }
      await claim(options);
      const bytes = await readBytes(platform, source, options);
      return new Model(
        call(() => glue.WasmModel.load(bytes, options)),
        logSink(options.monitoring?.log),
        options.threads,
      );
    }

    get inputs() {
      return this.#inputs;
    }

    /** 'snapshot' when a bundle's stored memory was restored, 'onnx' when the model was parsed. */
    get loadedFrom() {
      return this.#loadedFrom;
    }

    /** A bundle's manifest (name, version, schema, digests, signer), or null for plain ONNX. */
    get manifest() {
      return this.#manifest;
    }

    get outputs() {
      return this.#outputs;
    }

    /** The ONNX file's metadata_props and producer, e.g. `{ producer_name: 'skl2onnx' }`. */
    get metadata() {
      return this.#metadata;
    }

    /** Runs the model on `feeds`: `{ [inputName]: { data, shape, dtype? } }`. */
    async predict(feeds) {
      try {
        this.#inputIndex ??= new Map(this.#inputs.map((info, i) => [info.name, i]));
        return call(() =>
          stage(this.#wasm, this.#inputIndex, feeds) ? this.#wasm.predictStaged() : this.#wasm.predict(feeds),
        );
      } finally {
        if (this.#sink) this.#drainLogs();
        if (this.#specializing) {
          // A caller that never yields to the event loop (a tight loop of predictions) never
          // lets the timer run: after a few calls it pays for the plan itself.
          if (++this.#waiting >= SPECIALIZE_INLINE_AFTER) {
            this.#waiting = 0;
            this.#specializeNow();
          }
        } else if (this.#wasm.wantsSpecializing()) {
          this.#specializeLater();
        }
      }
    }

    /** Builds one waiting specialised plan; whether another waits. */
    #specializeNow() {
      try {
        return !this.disposed && this.#wasm.specializeNext();
      } catch {
        return false; // Specialising is an optimisation: the symbolic plan keeps answering.
      }
    }

    /**
     * Builds the plans specialised for shapes seen more than once, one per timer turn, after
     * the predictions that asked for them are answered: building one runs the optimiser
     * (milliseconds, a tenth of a second for a CNN), which no prediction waits for.
     */
    #specializeLater() {
      this.#specializing = true;
      this.#waiting = 0;
      try {
        setTimeout(() => {
          this.#specializing = false;
          if (this.#specializeNow()) this.#specializeLater();
        }, 0);
      } catch {
        // No timers here (a Worker's module scope): a later prediction asks again.
        this.#specializing = false;
      }
    }

    /**
     * Predicts over `source`, an iterable or async iterable of records (objects keyed by
     * feature or input name, or arrays of feature values), `batchSize` records at a time,
     * yielding `{ outputs, indices, rejected }` per batch: the outputs of the records read and
     * predicted, their indices in `source`, and `{ index, reason }` for each of the others.
     */
    async *predictBatches(source, options = {}) {
      const { batchSize = 1024, features } = options ?? {};
      if (!Number.isSafeInteger(batchSize) || batchSize < 1)
        throw new EdgeInferError('E_INVALID_OPTION', `batchSize is a whole number of at least 1, got ${batchSize}`);
      if (typeof source?.[Symbol.asyncIterator] !== 'function' && typeof source?.[Symbol.iterator] !== 'function')
        throw new EdgeInferError('E_INVALID_OPTION', 'predictBatches takes an iterable or async iterable of records');
      let table = null;
      let batch = [];
      let index = 0;
      const run = async () => {
        const { rows, outputs, rejects } = await predictRows(this, table.job, batch);
        batch = [];
        return {
          outputs,
          indices: rows.map((r) => r.line),
          rejected: rejects.map(([i, reason]) => ({ index: i, reason })),
        };
      };
      for await (const record of source) {
        if (!table) {
          try {
            table = recordTable(this, record, { features });
          } catch (e) {
            throw e instanceof TableError ? new EdgeInferError(e.code, e.message) : e;
          }
        }
        batch.push(table.read(record, index++));
        if (batch.length === batchSize) yield await run();
      }
      if (batch.length) yield await run();
    }

    /**
     * Runs the model on `feeds` as `predict` does (not counted by monitoring) and says where
     * the time went: `[{ node, op, ms }]`, one entry per node of the plan that ran, in order.
     */
    async profile(feeds) {
      return JSON.parse(call(() => this.#wasm.profile(feeds)));
    }

    // Monitoring (see the README): the core does the work, these only carry it across.

    /** Performance, quality and feedback counters. */
    stats() {
      return JSON.parse(call(() => this.#wasm.stats()));
    }

    /** The inputs' and predictions' drift against the reference. */
    drift() {
      return JSON.parse(call(() => this.#wasm.drift()));
    }

    /** Ground truth for a prediction: one label, or one per row (null skips a row). */
    feedback(id, labels) {
      return call(() => this.#wasm.feedback(id, arrayLike(labels) ? Array.from(labels) : labels));
    }

    /** The monitoring counters in the Prometheus text format. */
    prometheus(labels) {
      return call(() => this.#wasm.prometheus(labels));
    }

    /** Prediction log lines not yet handed to a sink (JSON text, oldest first). */
    takeLogs() {
      return call(() => this.#wasm.takeLogs());
    }

    /** Rows feedback labelled, with their features, as JSON lines (`monitoring.exportFeedback`). */
    exportFeedback() {
      return call(() => this.#wasm.exportFeedback());
    }

    /** Changes what is logged and where (`monitoring.log` options). */
    configureLogs(options) {
      call(() => this.#wasm.configureLogs(options));
      this.#sink = logSink(options);
    }

    /** Reference statistics of a training sample as this model sees it, with its predictions. */
    async buildReference(sample, options) {
      return JSON.parse(call(() => this.#wasm.buildReference(sample, options)));
    }

    #drainLogs() {
      for (const line of this.#wasm.takeLogs()) {
        try {
          this.#sink(line);
        } catch {
          // A failing sink loses its line; it must not fail the prediction.
        }
      }
    }

    /**
     * What the model holds in the instance's heap (weights as given and packed, plans,
     * prediction state, monitoring buffers), the heap's total for every model and the runtime,
     * and the size of the instance's memory, which never shrinks; in bytes. A disposed model
     * holds 0.
     */
    memory() {
      const [bytes, heapBytes, instanceBytes] = this.#wasm.memory();
      return { bytes, heapBytes, instanceBytes };
    }

    /** Frees the model's memory now; later calls reject with E_DISPOSED. */
    dispose() {
      this.#wasm.dispose();
    }

    get disposed() {
      return this.#wasm.isDisposed();
    }

    /** The threads its predictions run on, the caller's included. */
    get threads() {
      return this.#threads;
    }
  }

  /**
   * Loads a bundle from its compiled module and its sections (`bundleSections`), read from
   * the module or, earlier, from the file's bytes.
   */
  async function loadBundle(module, options = {}, found = bundleSections(moduleSections(module))) {
    await init(options);
    const { manifest, model, signature, snapshot } = found;
    if (!manifest || !model)
      throw new EdgeInferError(
        'E_INTEGRITY',
        'the module is not an edgeinfer bundle: it lacks its manifest or model section',
      );
    const [digest, snapshotDigest] = await found.digests;
    const sink = logSink(options.monitoring?.log);
    // From here on nothing awaits, so no other load can come between the check, the
    // restore and taking the model.
    const restore =
      digest && snapshotDigest && options.inputShapes === undefined && fresh?.module === module ? fresh.exports : null;
    // Restoring needs the model's digest, not its bytes.
    const sections = new glue.BundleSections(
      manifest,
      signature,
      model.length,
      restore ? undefined : model,
      digest,
      snapshot?.length,
      snapshotDigest,
    );
    if (!restore) {
      fresh = null;
      startTeam();
      return new Model(
        call(() => glue.WasmModel.loadBundleSections(sections, options)),
        sink,
        options.threads,
      );
    }
    // A refusal leaves nothing in the instance, so a later load may still restore.
    call(() => glue.WasmModel.checkBundleSections(sections, options));
    fresh = null;
    try {
      restoreSnapshot(restore.memory, snapshot);
    } catch (e) {
      throw new EdgeInferError('E_INTEGRITY', e.message, { cause: e });
    }
    startTeam();
    return new Model(
      call(() => glue.WasmModel.fromSnapshot(manifest, options)),
      sink,
      options.threads,
      'snapshot',
    );
  }

  /** Building and checking bundles, for the CLI (Node). */
  const bundleTools = Object.freeze({
    async build(runtime, onnx, options) {
      await claim();
      return call(() => glue.buildBundle(runtime, onnx, options));
    },
    async verify(bytes, options = {}) {
      await claim();
      return JSON.parse(call(() => glue.verifyBundle(bytes, options)));
    },
    async keyPair(seed) {
      await claim();
      return call(() => glue.keyPair(seed));
    },
  });

  /** Reference statistics of a training sample (CSV text or records), for drift detection. */
  async function buildReference(sample, options = {}) {
    await claim(options);
    return JSON.parse(call(() => glue.buildReference(sample, options)));
  }

  /** Refuses with E_INTEGRITY unless the bundle `module` (already loaded) is signed by `publicKey`. */
  function checkSigner(module, publicKey) {
    const section = moduleSections(module);
    call(() =>
      glue.verifyBundleSignature(
        section(SECTIONS.manifest) ?? new Uint8Array(),
        section(SECTIONS.signature),
        publicKey,
      ),
    );
  }

  return { Model, init, buildReference, loadBundle, checkSigner, bundleTools };
}

function deepFreeze(o) {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

/**
 * A bundle's custom sections, read before the wasm starts (so not asked of it); the names
 * of `src/bundle/mod.rs`'s `*_SECTION`, checked by tests/js/contracts.test.mjs.
 */
export const SECTIONS = {
  manifest: 'edgeinfer.manifest',
  model: 'edgeinfer.model',
  signature: 'edgeinfer.signature',
  snapshot: 'edgeinfer.snapshot',
};

/** A reader of a compiled module's custom sections: undefined for none, or more than one. */
function moduleSections(module) {
  return (name) => {
    const found = WebAssembly.Module.customSections(module, name);
    return found.length === 1 ? new Uint8Array(found[0]) : undefined;
  };
}

/**
 * A bundle's sections from `section` (name to bytes), with their SHA-256 digests (hex, by
 * `sha256`, undefined where it fails) under way: started as soon as the bytes are at hand,
 * they run while the module compiles.
 */
export function bundleSections(section, sha256 = platformSha256) {
  const found = Object.fromEntries(Object.entries(SECTIONS).map(([part, name]) => [part, section(name)]));
  const digest = async (bytes) => (bytes ? sha256(bytes) : undefined);
  found.digests = Promise.all([found.model, found.snapshot].map((bytes) => digest(bytes).catch(() => undefined)));
  return found;
}

/**
 * A section's SHA-256 as hex, by the platform's WebCrypto (Node, workerd, and browsers in
 * secure contexts): native code, where sha2 in wasm starts cold. Undefined where there is
 * none; the core then hashes the model itself, and no snapshot is restored. Either way the
 * core compares the digests with the manifest.
 */
async function platformSha256(bytes) {
  const digest = await globalThis.crypto?.subtle?.digest('SHA-256', bytes);
  return digest ? Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('') : undefined;
}

/** The sink of `monitoring.log` (checked by the core): console.log, a function, or none. */
function logSink(log) {
  if (log?.sink === 'console') return (line) => console.log(line);
  return typeof log?.sink === 'function' ? log.sink : undefined;
}

/**
 * Typed arrays whose bytes the core takes as they are, with the dtype each stands for (its
 * `code` crosses the boundary): one per array, so not float16 or bool, whose arrays are
 * uint16's and uint8's.
 */
const STAGED = new Map(
  DTYPES.filter((d) => d.array && d.name !== 'float16' && d.name !== 'bool').map((d) => [
    d.array,
    { code: d.code, dtype: d.name },
  ]),
);

/**
 * The fast path of `predict`: when every feed names a known input and holds a typed array
 * of its own dtype with a plain array of numbers as its shape, hands each to the core as
 * bytes and returns true; the core checks them exactly as it checks `predict`'s feeds.
 * Anything else (plain arrays, other dtypes, `dims`/`type` spellings, mistakes) returns
 * false before staging anything, and `predict` reads and diagnoses the feeds in the core.
 */
function stage(wasm, inputIndex, feeds) {
  if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) return false;
  // Each feed is read once, so what is staged is what was checked.
  const checked = [];
  for (const name of Object.keys(feeds)) {
    const feed = feeds[name];
    if (!inputIndex.has(name) || feed === null || typeof feed !== 'object') return false;
    const { data, shape, dtype } = feed;
    const kind = data == null ? undefined : STAGED.get(data.constructor);
    if (!kind || (dtype !== undefined && dtype !== kind.dtype) || (dtype === undefined && feed.type !== undefined))
      return false;
    if (!Array.isArray(shape)) return false;
    for (const d of shape) if (typeof d !== 'number') return false;
    checked.push({ input: inputIndex.get(name), kind, data, shape, declared: dtype !== undefined });
  }
  for (const { input, kind, data, shape, declared } of checked) {
    wasm.stageFeed(input, kind.code, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), shape, declared);
  }
  return true;
}

/**
 * Labels given as an array-like other than an Array or a typed array (which the core reads
 * as they are), such as `{ length: 2, 0: 'a', 1: 'b' }`; a bad length is E_FEEDBACK_INVALID.
 */
function arrayLike(labels) {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels) || ArrayBuffer.isView(labels))
    return false;
  const { length } = labels;
  if (length === undefined) return false;
  if (!Number.isInteger(length) || length < 0 || length > 2 ** 32 - 1) {
    throw new EdgeInferError(
      'E_FEEDBACK_INVALID',
      `invalid feedback: labels' length must be an array length, got ${length}`,
    );
  }
  return true;
}

function freezeInfos(infos) {
  return Object.freeze(infos.map((i) => Object.freeze({ ...i, shape: Object.freeze(i.shape) })));
}

/** Calls into wasm, turning a trap (which no Rust code should cause) into a coded error. */
function call(f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof EdgeInferError) throw e;
    const code = /** @type {{ code?: unknown }} */ (e)?.code;
    if (e instanceof Error && typeof code === 'string') throw new EdgeInferError(code, e.message);
    throw new EdgeInferError('E_INTERNAL', `the WebAssembly core failed: ${e?.message ?? e}`, { cause: e });
  }
}

async function readBytes(platform, source, options) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof source === 'string' || source instanceof URL) return platform.readSource(source, options);
  // After paths: Node loads its fetch implementation on first reading the global `Response`.
  if (typeof Response !== 'undefined' && source instanceof Response)
    return responseBytes(source, source.url || 'the Response');
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new Uint8Array(await source.arrayBuffer());
  throw new EdgeInferError(
    'E_INVALID_OPTION',
    `cannot load a model from ${describe(source)}: expected a Uint8Array, ArrayBuffer, Response, Blob, URL or string`,
  );
}

/** Reads a fetched model, refusing HTTP errors with the status rather than parsing an error page. */
export async function responseBytes(response, what) {
  if (!response.ok) {
    throw new EdgeInferError(
      'E_MODEL_FETCH',
      `cannot fetch the model from ${what}: HTTP ${response.status} ${response.statusText}`.trim(),
    );
  }
  return new Uint8Array(await response.arrayBuffer());
}

export async function fetchBytes(url, options) {
  const doFetch = options.fetch ?? globalThis.fetch;
  let response;
  try {
    response = await doFetch(url, options.signal ? { signal: options.signal } : undefined);
  } catch (e) {
    throw new EdgeInferError('E_MODEL_FETCH', `cannot fetch the model from ${url}: ${e?.message ?? e}`, { cause: e });
  }
  return responseBytes(response, String(url));
}

export function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an Array';
  if (typeof v === 'object') return `a ${v.constructor?.name ?? 'object'}`;
  return `a ${typeof v}`;
}
