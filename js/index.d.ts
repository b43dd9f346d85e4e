// Public types of the edgeinfer package, the same in every runtime.

/** Element type names, spelt as onnxruntime-web spells them. */
export type DType =
  | 'float32' | 'float64' | 'float16'
  | 'int8' | 'int16' | 'int32' | 'int64'
  | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'bool' | 'string';

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

export interface TensorInfo {
  readonly name: string;
  /** An element type; only outputs can be `'map'` (with shape [batch]). */
  readonly dtype: OutputDType;
  readonly shape: readonly Dim[];
}

export type TypedArray =
  | Float32Array | Float64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint8ClampedArray | Uint16Array | Uint32Array | BigUint64Array;

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

export type Tensor = {
  [D in OutputDType]: { readonly dtype: D; readonly shape: number[]; readonly data: DataOf[D] };
}[OutputDType];

export type Outputs = Record<string, Tensor>;

/** Where the wasm comes from, to override the default. */
export type WasmSource = string | URL | Response | BufferSource | WebAssembly.Module;

export interface LoadOptions {
  /** Pin input shapes at load (`{ x: [1, 32] }`): faster when the shape never changes. */
  inputShapes?: Record<string, readonly number[]>;
  /** Refuse inputs with more elements than this (default 2^27). */
  maxInputElements?: number;
  /** Refuse predictions that would make a tensor larger than this many bytes (default 1 GiB). */
  maxTensorBytes?: number;
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
  /** Where to get the wasm; see `init`. */
  wasm?: WasmSource;
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
  readonly disposed: boolean;
  predict(feeds: Feeds): Promise<Outputs>;
  /** Frees the model's memory; later calls reject with `E_DISPOSED`. */
  dispose(): void;
}

export interface BundleManifest {
  readonly format: string;
  readonly name: string;
  readonly version: string;
  readonly created: string;
  readonly runtime: { readonly name: string; readonly version: string; readonly sha256?: string };
  readonly model: { readonly encoding: 'nnef' | 'onnx'; readonly sha256: string; readonly size: number; readonly source_sha256: string };
  readonly inputs: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly Dim[] }[];
  readonly outputs: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly Dim[] }[];
  readonly features?: readonly string[];
  readonly labels?: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly signer?: { readonly algorithm: 'Ed25519'; readonly key_id: string };
  readonly reference?: unknown;
}

/** Starts the wasm module ahead of the first load, optionally from a given source. */
export declare function init(options?: { wasm?: WasmSource }): Promise<void>;

export type ErrorCode =
  | 'E_MODEL_PARSE' | 'E_MODEL_INVALID' | 'E_UNSUPPORTED_OP' | 'E_MODEL_FETCH'
  | 'E_INPUT_MISSING' | 'E_INPUT_UNKNOWN' | 'E_INPUT_DTYPE' | 'E_INPUT_SHAPE' | 'E_INPUT_VALUE'
  | 'E_INVALID_OPTION' | 'E_RESOURCE_LIMIT' | 'E_DISPOSED' | 'E_RUNTIME' | 'E_INTERNAL' | 'E_WASM_LOAD'
  | 'E_INTEGRITY' | 'E_BUNDLE_VERSION';

/** Every rejection from this package is one of these, with a stable `code`. */
export declare class EdgeInferError extends Error {
  readonly code: ErrorCode;
}
