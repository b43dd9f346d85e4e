// Public types of the edgeinfer package, the same in every runtime.

/** Element type names, spelt as onnxruntime-web spells them. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'
  | 'string';

/**
 * What an output can be: an element type, or `'map'` for the output of a ZipMap node
 * (scikit-learn classifiers' probabilities, one `{ label: probability }` per row). A list of
 * maps has no tensor form; `'map'` is never an input type.
 */
export type OutputDType = DType | 'map';

/** The JS container each output type comes back in. */
export interface DataOf {
  float32: Float32Array;
  float64: Float64Array;
  /** IEEE half floats as bit patterns. */
  float16: Uint16Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  /** 0 or 1 per element. */
  bool: Uint8Array;
  string: string[];
  /**
   * One plain object per row mapping each class label to its probability. JS object keys are
   * always strings, so int64 labels arrive as their decimal strings (`{ '0': 0.9, '1': 0.1 }`).
   */
  map: Array<Record<string, number>>;
}

/** A dimension: a size, or the name of a symbolic one ("batch", "seq") resolved per call. */
export type Dim = number | string;

/** One node of a profiled prediction: its name, its operator and the milliseconds it took. */
export interface NodeTime {
  readonly node: string;
  readonly op: string;
  readonly ms: number;
}

export interface TensorInfo {
  readonly name: string;
  /** An element type; only outputs can be `'map'` (with shape [batch]). */
  readonly dtype: OutputDType;
  readonly shape: readonly Dim[];
  /**
   * Present (true) on a value input: an input whose values, not only its shape, decide how
   * the graph is typed (a Reshape's shape, a Reduce's axes given as an input). Each new set of
   * values is a load of its own, kept like a specialised plan (`maxSpecializedPlans`).
   */
  readonly valueInput?: true;
}

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** One input. Plain arrays take the element type the model declares for the input. */
export interface Feed {
  data: TypedArray | readonly number[] | readonly bigint[] | readonly boolean[] | readonly string[];
  shape: readonly (number | bigint)[];
  /** Needed only where the data is ambiguous: `float16` in a Uint16Array, `bool` in a Uint8Array. */
  dtype?: DType;
}

/** Also accepted: onnxruntime-web's tensor fields (`dims`, `type`). */
export interface OrtLikeFeed {
  data: Feed['data'];
  dims: readonly (number | bigint)[];
  type?: DType;
}

export type Feeds = Record<string, Feed | OrtLikeFeed>;

/**
 * An output. Narrow it by `dtype` to get its data's type: `if (t.dtype === 'int64') t.data`
 * is a `BigInt64Array`.
 */
export type Tensor = {
  [D in OutputDType]: {
    readonly dtype: D;
    readonly shape: number[];
    readonly data: DataOf[D];
    /** What `JSON.stringify` writes for it (not enumerable): see `TensorJSON`. */
    toJSON(): TensorJSON;
  };
}[OutputDType];

/**
 * An output as JSON (`JSON.stringify(outputs)` calls each output's `toJSON`): `data` as a
 * plain array. int64 and uint64 values are numbers when they are safe integers (within
 * ±(2^53 - 1)), else their decimal strings; bool is 0 or 1, float16 its bit patterns; NaN and
 * ±Infinity become `null` in the JSON text, as JSON has no such numbers.
 */
export interface TensorJSON {
  readonly dtype: OutputDType;
  readonly shape: number[];
  readonly data: Array<number | string | Record<string, number>>;
}

export type Outputs = Record<string, Tensor>;

/**
 * The id of the prediction that made `outputs` (what `predict` resolved to), for
 * `model.feedback`; undefined when monitoring is off. It sits under the registered symbol
 * `Symbol.for('edgeinfer.predictionId')`, so `Object.keys`, `Object.entries`, `for...in` and
 * `JSON.stringify` see only the outputs (spreading copies it along).
 */
export declare function predictionId(outputs: Outputs): string | undefined;

/**
 * Where the wasm comes from, to override the default. Each runtime takes only some of these
 * forms, and refuses the others with `E_INVALID_OPTION`:
 * - Node: a `WebAssembly.Module`, bytes, a file path or a `file:` URL;
 * - browsers: a `WebAssembly.Module`, bytes, a `Response`, or a URL (a string is resolved
 *   against the page);
 * - Cloudflare Workers: only a `WebAssembly.Module` (`import wasm from './x.wasm'`), as workerd
 *   compiles no wasm from bytes at run time.
 */
export type WasmSource = WebAssembly.Module | BufferSource | Response | URL | string;

export interface LoadOptions {
  /** Pin input shapes at load (`{ x: [1, 32] }`): faster when the shape never changes. */
  inputShapes?: Record<string, readonly number[]>;
  /** Refuse inputs with more elements than this (default 2^27). */
  maxInputElements?: number;
  /**
   * Refuse a model that declares, and predictions that would make, a tensor larger than this
   * many bytes (default 1 GiB).
   */
  maxTensorBytes?: number;
  /** Refuse a model file larger than this many bytes (default 2 GiB). */
  maxModelBytes?: number;
  /** Refuse a model of more nodes than this, its nested graphs' included (default 1,000,000). */
  maxNodes?: number;
  /** Refuse a model whose graphs nest deeper than this, the main graph being 1 (default 16). */
  maxGraphDepth?: number;
  /**
   * Input shapes seen twice get an execution plan optimised for them, kept in a
   * most-recently-used cache of this many plans (default 4). 0 turns it off and saves the
   * memory of the decluttered model it starts from.
   */
  maxSpecializedPlans?: number;
  /**
   * For bundles (`edgeinfer build`): the Ed25519 public key, SPKI PEM or 32 raw bytes, whose
   * signature the bundle must carry; a bundle unsigned or signed by another key is refused
   * with E_INTEGRITY. Without it only the bundle's digests are checked.
   */
  publicKey?: string | Uint8Array;
  /** Monitoring (on by default): `false` turns it off, an object configures it. */
  monitoring?: MonitoringOptions | boolean;
  /** Reference statistics for drift detection: the JSON `edgeinfer reference` writes (text or parsed). */
  reference?: Reference | string;
  /**
   * Checks every prediction's features against `reference` before the model runs (needs
   * monitoring on): a mode, or the full options. Replaces a bundle's own guard; `false` or
   * 'off' drops it.
   */
  guard?: GuardOptions | GuardMode | false;
  /** Where to get the wasm; see `init`. */
  wasm?: WasmSource;
  /** Which build of the package's wasm to start; see `init`. */
  simd?: SimdOption;
  /**
   * Threads its predictions may use, the caller's included: at most what the instance
   * started (see `init`), which 'auto' (the default) takes whole.
   */
  threads?: ThreadsOption;
  /** The fetch used for URL sources (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Aborts fetching a URL source. */
  signal?: AbortSignal;
}

/** A model source: bytes, a fetched Response, a Blob, or a URL (a file path in Node). */
export type ModelSource = Uint8Array | ArrayBuffer | ArrayBufferView | Response | Blob | URL | string;

export declare class Model {
  private constructor();
  static load(source: ModelSource, options?: LoadOptions): Promise<Model>;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** The ONNX file's `metadata_props` and producer (`producer_name`, `producer_version`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** A bundle's manifest (name, version, schema, digests, signer); null for plain ONNX. */
  readonly manifest: BundleManifest | null;
  /**
   * 'snapshot' when a bundle module restored the model as `edgeinfer build` loaded it (the
   * first bundle a fresh runtime instance opens), 'onnx' when the model was parsed here.
   */
  readonly loadedFrom: 'snapshot' | 'onnx';
  readonly disposed: boolean;
  /** The threads its predictions run on, the caller's included (the `threads` load option). */
  readonly threads: number;
  predict(feeds: Feeds): Promise<Outputs>;
  /**
   * Predicts over `source`, records `batchSize` (1024) at a time: objects keyed by feature or
   * input name (`features` names a model's features where it does not), or arrays of feature
   * values. Yields each batch's outputs, the indices of the records they are for, and why each
   * other record was rejected. Refuses with `E_INVALID_OPTION`, `E_INPUT_MISSING` (a feature
   * no record has) or `E_INPUT_SHAPE` (records of the wrong width) before predicting.
   */
  predictBatches(
    source: Iterable<TableRecord> | AsyncIterable<TableRecord>,
    options?: { batchSize?: number; features?: string[] },
  ): AsyncGenerator<PredictedBatch, void, undefined>;
  /**
   * Runs the model as `predict` does (not counted by monitoring) and says where the time
   * went: one entry per node of the plan that ran, in the order they ran.
   */
  profile(feeds: Feeds): Promise<NodeTime[]>;
  /** Frees the model's memory; later calls reject with `E_DISPOSED`. */
  dispose(): void;
  /** What the model holds in memory, in bytes (0 once disposed). */
  memory(): ModelMemory;
  /** Performance, quality and feedback counters since load. */
  stats(): ModelStats;
  /** Drift of the inputs and predictions against the reference. */
  drift(): DriftReport;
  /**
   * Joins ground truth to prediction `id`: one label for a one-row prediction, else one per
   * row (`null` skips a row), in an array, a typed array or any array-like. Returns the rows newly labelled; the same label again is a
   * no-op. Throws `E_PREDICTION_UNKNOWN` for an id this model does not hold (another
   * instance's, or older than `feedbackCapacity` rows) and `E_FEEDBACK_INVALID` for labels
   * that do not fit.
   */
  feedback(id: string, labels: Label | ArrayLike<Label>): number;
  /** The monitoring counters in the Prometheus text format, each sample with `labels` (default: monitoring.name and version). */
  prometheus(labels?: Record<string, string>): string;
  /** Prediction log lines (JSON text) not yet handed to a sink, oldest first. */
  takeLogs(): string[];
  /**
   * The rows feedback labelled since the last call (with `monitoring.exportFeedback`), one
   * JSON line each: `{ predicted, labelled, model, version, id, row, features, prediction,
   * label }`, oldest first; at most `feedbackCapacity` wait, the oldest dropped past it.
   */
  exportFeedback(): string[];
  /** Changes what is logged and where; `false` stops logging. */
  configureLogs(options: LogOptions | false): void;
  /** Reference statistics of a training sample (CSV text, records, or feeds) as this model sees it, with its predictions. */
  buildReference(
    sample: string | readonly Record<string, unknown>[] | Feeds,
    options?: { categorical?: string[] },
  ): Promise<Reference>;
}

export interface BundleManifest {
  readonly format: string;
  readonly name: string;
  readonly version: string;
  readonly created: string;
  readonly runtime: { readonly name: string; readonly version: string; readonly sha256?: string };
  readonly model: {
    readonly encoding: 'onnx';
    readonly sha256: string;
    readonly size: number;
    readonly source_sha256: string;
    /** The ONNX file's OpenSSF model-signing digest: the subject `edgeinfer sign` signs. */
    readonly model_signing_sha256?: string;
  };
  readonly inputs: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly Dim[] }[];
  readonly outputs: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly Dim[] }[];
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signer?: { readonly algorithm: 'Ed25519'; readonly key_id: string };
  readonly reference?: unknown;
  /** The input guard loads apply unless they give their own (`edgeinfer build --guard`). */
  readonly guard?: Readonly<Required<GuardOptions>>;
  /** The loaded model's memory stored in the bundle (absent with `build --no-snapshot`). */
  readonly snapshot?: { readonly size: number; readonly sha256: string };
}

/** A class (number, bigint, string, boolean) or, for a regressor, a number; `null` for none. */
export type Label = number | bigint | string | boolean | null | undefined;

export interface MonitoringOptions {
  /** false: no monitoring at all. */
  enabled?: boolean;
  /** The model's name and version in logs and Prometheus labels. */
  name?: string;
  version?: string;
  /** Found from the outputs unless given: a label per row (or a [batch, K] score matrix) is classification, one number per row regression. */
  task?: 'classification' | 'regression';
  /** The output holding the predicted class per row. */
  labelOutput?: string;
  /** The output holding per-class scores ([batch, K] or a map), or a regressor's value, or a binary classifier's score ([batch, 1]). */
  scoreOutput?: string;
  /** A binary classifier with one score column predicts 1 at and above this (default 0.5). */
  threshold?: number;
  /** Names for the columns of the model's [batch, F] input (default: its `feature_names` metadata, else `x[0]`, ...). */
  features?: string[];
  /** Rows in each drift window (default 1000). */
  window?: number;
  /** Rows a window needs before any drift verdict (default 100). */
  minRows?: number;
  /** False-alarm rate of one drift check, shared between the features (default 0.01). */
  alpha?: number;
  /** Labelled rows the quality metrics are computed over (default 1000). */
  qualityWindow?: number;
  /** Recent predicted rows kept for feedback to join (default 10000). */
  feedbackCapacity?: number;
  /** Distinct classes remembered (default 1000). */
  maxClasses?: number;
  /** Prediction logs: off unless given. */
  log?: LogOptions | false;
  /**
   * Hold each prediction's features (as sent, without the names `log.redact` lists) so that
   * every row feedback labels can be exported for retraining with `exportFeedback()`
   * (default false: the features are not kept).
   */
  exportFeedback?: boolean;
}

export interface LogOptions {
  /** Where each line goes as it is made; without one, lines wait for `takeLogs()`. */
  sink?: 'console' | ((line: string) => void);
  /** Share of predictions logged (default 1). */
  sampleRate?: number;
  /** Log the inputs too (default false). */
  includeInputs?: boolean;
  /** Input, feature and output names never logged, whatever else is. */
  redact?: string[];
  /** Lines and bytes held for the sink or `takeLogs()` before the oldest are dropped (1000, 1 MiB). */
  maxLines?: number;
  maxBytes?: number;
  /** Values logged per tensor or feature (1000). */
  maxValues?: number;
}

/** One line of a prediction log, as JSON. */
export interface PredictionLogLine {
  id?: string;
  /** ISO 8601. */
  time: string;
  model: string;
  version: string;
  latency_ms: number;
  rows: number;
  /** A failed call's error code (and no outputs). */
  error?: ErrorCode;
  outputs?: Record<string, { shape: number[]; data: unknown[]; truncated?: true }>;
  /** Features by name (a value per row); inputs without features as { shape, data }. */
  inputs?: Record<string, unknown>;
}

export interface NumericReference {
  type: 'numeric';
  name: string;
  count: number;
  missing: number;
  mean: number | null;
  std: number | null;
  /** At 0%, 5%, ..., 100%. */
  quantiles: number[];
  /** Bin i holds values in (edges[i-1], edges[i]]. */
  edges: number[];
  counts: number[];
}

export interface CategoricalReference {
  type: 'categorical';
  name: string;
  count: number;
  missing: number;
  categories: Array<[string, number]>;
  other: number;
}

export type FeatureReference = NumericReference | CategoricalReference;

/** What `edgeinfer reference` writes and the `reference` option takes. */
export interface Reference {
  format: 'edgeinfer-reference';
  version: 1;
  rows: number;
  features: FeatureReference[];
  prediction?: FeatureReference;
}

/** One row of a table: values keyed by column, or in the model's feature order. */
export type TableRecord = Record<string, unknown> | readonly unknown[];

export interface PredictedBatch {
  /** The outputs of the records predicted, one row each; null when none was. */
  outputs: Outputs | null;
  /** The index in the source of each record predicted, in order. */
  indices: number[];
  /** The records not predicted: a value that is no number, the wrong width, one the model refuses. */
  rejected: Array<{ index: number; reason: string }>;
}

export interface ModelMemory {
  /**
   * Heap bytes this model holds: its weights as given and as packed for each plan, prediction
   * state and monitoring buffers. Grows as plans for new shapes are built.
   */
  bytes: number;
  /** Heap bytes live in the WebAssembly instance, for every model and the runtime. */
  heapBytes: number;
  /** The instance's memory size: its high-water mark, since WebAssembly memory never shrinks. */
  instanceBytes: number;
}

export interface ModelStats {
  model: string;
  version: string;
  /** Successful predict calls, and the rows they predicted. */
  predictions: number;
  rows: number;
  errors: { total: number; byCode: Partial<Record<ErrorCode, number>> };
  /** Within 0.5% of the exact quantiles. `null` before the first prediction. */
  latencyMs: {
    count: number;
    mean: number | null;
    min: number | null;
    p50: number | null;
    p90: number | null;
    p99: number | null;
    max: number | null;
  };
  /** Cumulative buckets; the last (`le: null`) holds every call. */
  batchSize: { mean: number | null; max: number; histogram: Array<{ le: number | null; count: number }> };
  /** Over the last minute (less until a minute has passed). */
  throughput: { windowSeconds: number; predictionsPerSecond: number; rowsPerSecond: number };
  /** `null` for a model with no class or value per row to compare with. */
  quality: QualityReport | null;
  feedback: {
    rows: number;
    unknown: number;
    pending: number;
    capacity: number;
    /** Whether labelled rows are exported; how many were, and how many were dropped before `exportFeedback()` took them. */
    export: boolean;
    exported: number;
    exportDropped: number;
  };
  logs: { enabled: boolean; written: number; dropped: number; sampledOut: number; queued: number };
  /** `null` without an input guard. */
  guard: GuardStats | null;
}

/**
 * What an input guard does with a feature outside the reference: 'refuse' fails the call
 * with E_INPUT_VALUE naming the feature, the row and the allowed range; 'clip' moves
 * numbers into range (and lets through what it cannot move); 'flag' only counts and logs.
 */
export type GuardMode = 'flag' | 'clip' | 'refuse' | 'off';

export interface GuardOptions {
  mode: GuardMode;
  /** How far past the reference's minimum and maximum a number may go, as a share of the range between them (default 0.1). */
  margin?: number;
  /** Missing values (NaN, no text): allowed where the reference had some ('reference', the default), always, or never. */
  missing?: 'reference' | 'allow' | 'refuse';
}

export interface GuardStats {
  mode: GuardMode;
  margin: number;
  /** Calls checked; those with a feature outside the reference; refused; values clipped. */
  calls: number;
  flaggedCalls: number;
  refusedCalls: number;
  clippedValues: number;
  features: Array<{ feature: string; below: number; above: number; missing: number; unknownCategory: number }>;
  /** Features the reference has no statistics for: nothing checks them. */
  unguarded: string[];
}

/** Over the last `window` labelled rows. Per-class arrays follow `classes`. */
export interface QualityReport {
  task: 'classification' | 'regression';
  window: number;
  rows: number;
  labelledTotal: number;
  classes?: string[];
  accuracy?: number;
  precision?: number[];
  recall?: number[];
  f1?: number[];
  support?: number[];
  macro?: { precision: number; recall: number; f1: number };
  weighted?: { precision: number; recall: number; f1: number };
  /** True classes as rows, predicted as columns. */
  confusion?: number[][];
  /** Binary: of the positive class's score; multiclass: one-vs-rest, macro. */
  rocAuc?: number;
  mae?: number;
  rmse?: number;
  meanError?: number;
}

export type DriftStatus = 'ok' | 'drift' | 'insufficient_data' | 'collecting_baseline' | 'no_reference';

export interface FeatureDrift {
  name: string;
  type: 'numeric' | 'categorical';
  rows: number;
  /** Share of the window's values missing. */
  missing: number;
  psi: number | null;
  /** max(0.1, the PSI sampling noise exceeds 1% of the time at this window size). */
  psiThreshold: number | null;
  jensenShannon: number | null;
  test: 'ks' | 'chi2';
  statistic: number | null;
  pValue: number | null;
  status: DriftStatus;
  baselineRows?: number;
  baselineNeeded?: number;
}

export interface DriftReport {
  status: DriftStatus;
  window: number;
  rows: number;
  minRows: number;
  alpha: number;
  /** alpha divided among the tests (Bonferroni): a feature drifts when its p-value is below this and its PSI above its threshold. */
  alphaPerTest: number;
  features: FeatureDrift[];
  prediction: FeatureDrift | null;
  /** The model's features the reference does not describe. */
  unmonitored: string[];
}

/** Reference statistics of a training sample (CSV text with a header row, or records) without a model. */
export declare function buildReference(
  sample: string | readonly Record<string, unknown>[],
  options?: { categorical?: string[] },
): Promise<Reference>;

/**
 * A build of the package's wasm: `relaxed-simd` fuses each multiply and add where the engine
 * allows (Chrome, newer Node; the same answers within float tolerance, faster), `simd128`
 * runs everywhere and gives the same bits on every machine.
 */
export type SimdVariant = 'relaxed-simd' | 'simd128';

/** `auto` (the default): relaxed SIMD where the engine has it, else simd128. */
export type SimdOption = 'auto' | SimdVariant;

/**
 * A number of threads, from 1 to 64, or `auto`: for `init`, one per core up to four where
 * threads can run (Node, with relaxed SIMD), else 1; for a model, all the instance has.
 */
export type ThreadsOption = 'auto' | number;

/**
 * Starts the wasm module ahead of the first load, optionally from a given source, as a given
 * build, or with a pool of threads (the first call decides). Resolves to the build that runs
 * and the most threads a model can have: 1 where threads cannot run, never an error.
 */
export declare function init(options?: {
  wasm?: WasmSource;
  simd?: SimdOption;
  threads?: ThreadsOption;
}): Promise<{ simd: SimdVariant; threads: number }>;

export type ErrorCode =
  | 'E_MODEL_PARSE'
  | 'E_MODEL_INVALID'
  | 'E_UNSUPPORTED_OP'
  | 'E_MODEL_FETCH'
  | 'E_INPUT_MISSING'
  | 'E_INPUT_UNKNOWN'
  | 'E_INPUT_DTYPE'
  | 'E_INPUT_SHAPE'
  | 'E_INPUT_VALUE'
  | 'E_INVALID_OPTION'
  | 'E_RESOURCE_LIMIT'
  | 'E_DISPOSED'
  | 'E_RUNTIME'
  | 'E_INTERNAL'
  | 'E_WASM_LOAD'
  | 'E_INTEGRITY'
  | 'E_BUNDLE_VERSION'
  | 'E_PREDICTION_UNKNOWN'
  | 'E_FEEDBACK_INVALID';

/** Every rejection from this package is one of these, with a stable `code`. */
export declare class EdgeInferError extends Error {
  /** `options.cause`: the error this one comes from, as for `Error`. */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
  readonly name: 'EdgeInferError';
  readonly code: ErrorCode;
}
