// Types of edgeinfer/server.
import type { LoadOptions, Model } from '../index.js';

export interface ServedModel {
  /** The name in routes: /v2/models/{name}. */
  name: string;
  /** The version in routes: /v2/models/{name}/versions/{version} (default "1"). */
  version?: string;
  /**
   * Loads the model; called once per isolate (see `loading`), with the monitoring labels
   * (`{ monitoring: { name, version } }`) to pass on to `Model.load`, and the Worker's
   * environment (its bindings; empty when loading at start-up).
   */
  load: (options: LoadOptions, env: Record<string, unknown>) => Promise<Model>;
  /** Feature names for /predict instances, overriding the model's `feature_names` metadata. */
  features?: string[];
}

/** Settings, as Worker vars and secrets name them; values from `env` take precedence. */
export interface ServerSettings {
  /** JSON: [{ "name": "web", "key": "...", "scopes": ["predict", "metrics", "admin"], "rateLimit"?: "BINDING" }] */
  API_KEYS?: string;
  JWT_HS256_SECRET?: string;
  /** An Ed25519 public key as JWK JSON or SPKI PEM. */
  JWT_EDDSA_PUBLIC_KEY?: string;
  JWT_AUDIENCE?: string;
  JWT_ISSUER?: string;
  /** Comma-separated route groups callable without credentials: health, metadata, infer, feedback, metrics. */
  PUBLIC_ROUTES?: string;
  /** Where the routes sit under the Worker's route pattern: "/models" for example.com/models/* (default ""). */
  BASE_PATH?: string;
  /** Comma-separated origins allowed for browser callers, or "*". */
  CORS_ORIGINS?: string;
  MAX_BODY_BYTES?: string | number;
  MAX_BATCH_ROWS?: string | number;
  MAX_TENSOR_ELEMENTS?: string | number;
  /** Prediction logs: "off" (default), "console" (Workers Logs) or "queue" (the Queue binding LOG_QUEUE names). */
  LOG_PREDICTIONS?: 'off' | 'console' | 'queue';
  /** The Queue binding's name (default PREDICTION_LOGS). */
  LOG_QUEUE?: string;
  /** Share of predictions logged, 0 to 1 (default 1). */
  LOG_SAMPLE_RATE?: string | number;
  /** "true" to log inputs (default "false"). */
  LOG_INPUTS?: string;
  /** Comma-separated input, feature and output names never logged. */
  LOG_REDACT?: string;
  /**
   * The Rate Limiting binding ([[ratelimits]] in wrangler.toml) every caller counts against
   * unless its API key names its own (`"rateLimit": "BINDING"` in API_KEYS); callers of public
   * routes count by IP. Past it: 429 with Retry-After. Default "" (none).
   */
  RATE_LIMIT?: string;
  /** The bindings' period in seconds, 10 or 60 (default 60), for Retry-After. */
  RATE_LIMIT_PERIOD?: string | number;
  /**
   * Requests a window for rate limits counted by a Durable Object namespace of `RateLimiter`
   * (where the account has no Rate Limiting binding): RATE_LIMIT, or an API key's `rateLimit`,
   * names the namespace's binding instead.
   */
  RATE_LIMIT_REQUESTS?: string | number;
  /** The Queue binding labelled rows go to as feedback labels them (models loaded with monitoring.exportFeedback); default none. */
  FEEDBACK_QUEUE?: string;
  /** The KV namespace binding traffic policies live in (default TRAFFIC). */
  TRAFFIC_KV?: string;
  /** How old (1 to 30 s, default 10) an isolate's copy of a policy gets before it reads KV again. */
  TRAFFIC_REFRESH_SECONDS?: string | number;
  /** The R2 bucket binding batch jobs read their tables from and write their outputs to (default BATCH). */
  BATCH_BUCKET?: string;
  /** The Queue producer binding batch jobs' chunks are sent through (default BATCH_CHUNKS). */
  BATCH_QUEUE?: string;
  /** The name of that queue's dead-letter queue, also consumed by this Worker: its deliveries are chunks that failed every retry. */
  BATCH_DEAD_LETTER_QUEUE?: string;
  /** Rows per chunk when a job does not say (1 to 100,000; default 10,000). */
  BATCH_ROWS_PER_CHUNK?: string | number;
}

/** One message of a Queue consumer's batch, as Cloudflare Queues deliver it. */
export interface QueueMessage {
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/**
 * The Durable Object counting a caller's requests in fixed windows, for rate limits without
 * the Rate Limiting binding: export it from the Worker's main module and bind a namespace of
 * it ([[durable_objects.bindings]] with class_name "RateLimiter", and a migration).
 */
export declare class RateLimiter {
  constructor(state: {
    storage: { get(key: string): Promise<unknown>; put(key: string, value: unknown): Promise<void> };
  });
  fetch(request: Request): Promise<Response>;
}

/** Which version of a model answers requests that name none, and how a candidate is tried. */
export interface TrafficPolicy {
  /** The version that answers (default: the latest). */
  production?: string;
  /** The version a canary share of callers gets, and shadow traffic runs on. */
  candidate?: string | null;
  /** Percent (0 to 100) of callers, by their sticky key, the candidate answers (default 0). */
  canary?: number;
  /** Percent (0 to 100) of production's requests the candidate also runs on, after the response (default 0). */
  shadow?: number;
  /** Whose requests stay together: 'principal' (API key name or JWT sub; the default) or 'header:NAME'. */
  sticky?: 'principal' | `header:${string}`;
}

export declare function createHandler(config: {
  models: ServedModel[];
  /**
   * When models load: 'first-request' (default) starts them all in the background of the first
   * request, keeping a Worker's start-up (module scope) short; 'startup' loads them when the
   * handler is made.
   */
  loading?: 'first-request' | 'startup';
  /**
   * A budget for the bytes the loaded models hold together (`model.memory().bytes`). A load
   * that would pass it is refused with E_RESOURCE_LIMIT (`over: 'refuse'`, the default), or
   * the least recently used models no request is using are unloaded (`over: 'evict'`), to load
   * again when next asked for; then only a model bigger than the budget is refused.
   */
  memory?: { budget: number; over?: 'refuse' | 'evict' };
  /**
   * Per model name, which version answers requests that name none (default: the latest). A
   * KV namespace bound as TRAFFIC_KV says overrides it, changed by PUT /v2/models/{name}/traffic.
   */
  traffic?: Record<string, TrafficPolicy>;
  settings?: ServerSettings;
}): {
  fetch(
    request: Request,
    env?: ServerSettings & Record<string, unknown>,
    ctx?: { waitUntil(promise: Promise<unknown>): void },
  ): Promise<Response>;
  /** The Queue consumer of batch jobs' chunks (POST /v2/batch/jobs) and of their dead-letter queue. */
  queue(
    batch: { queue: string; messages: readonly QueueMessage[] },
    env?: ServerSettings & Record<string, unknown>,
    ctx?: { waitUntil(promise: Promise<unknown>): void },
  ): Promise<void>;
};

/**
 * The bytes of an R2 object, read once into a buffer of its size and refused (E_INTEGRITY)
 * unless their SHA-256 is `sha256` (hex); E_MODEL_FETCH when the binding (default MODELS) or
 * the object is missing.
 */
export declare function readFromR2(
  env: Record<string, unknown>,
  where: { binding?: string; key: string; sha256: string },
): Promise<Uint8Array>;
