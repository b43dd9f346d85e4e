// Deployment settings, read from the Worker's environment (vars and secrets) with defaults.
import { parseApiKeys, jwtKeys } from './auth.js';
import { MAX_ROWS_PER_CHUNK } from './batch-jobs.js';

const DEFAULTS = {
  // Where the routes sit under the Worker's route pattern ("/models" for example.com/models/*).
  BASE_PATH: '',
  PUBLIC_ROUTES: 'health',
  CORS_ORIGINS: '',
  MAX_BODY_BYTES: 1 << 20,
  MAX_BATCH_ROWS: 1024,
  MAX_TENSOR_ELEMENTS: 1 << 20,
  LOG_PREDICTIONS: 'off',
  LOG_QUEUE: 'PREDICTION_LOGS',
  LOG_SAMPLE_RATE: 1,
  LOG_INPUTS: 'false',
  LOG_REDACT: '',
  // A JWT valid for longer than this (seconds) from now is refused, however it was signed.
  JWT_MAX_LIFETIME: 86400,
  // The Rate Limiting binding (wrangler.toml [[ratelimits]]) every caller counts against,
  // unless its API key names its own; '' for none. Callers of public routes count by IP.
  RATE_LIMIT: '',
  // The window of those bindings, in seconds (10 or 60, as in wrangler.toml): Retry-After.
  RATE_LIMIT_PERIOD: 60,
  RATE_LIMIT_REQUESTS: '',
  // The KV namespace binding traffic policies are read from and written to ('' for none), and
  // how old an isolate's copy of a policy may get before it reads KV again.
  TRAFFIC_KV: 'TRAFFIC',
  // The Queue binding labelled rows are sent to as feedback labels them (models loaded with
  // monitoring.exportFeedback); '' for none: they wait for GET .../feedback/export.
  FEEDBACK_QUEUE: '',
  TRAFFIC_REFRESH_SECONDS: 10,
  // Batch jobs: the R2 bucket binding their tables and outputs are in, the Queue producer
  // binding their chunks go through, the name of that queue's dead-letter queue (whose
  // deliveries are chunks that failed every retry), and the rows of a chunk by default.
  BATCH_BUCKET: 'BATCH',
  BATCH_QUEUE: 'BATCH_CHUNKS',
  BATCH_DEAD_LETTER_QUEUE: '',
  BATCH_ROWS_PER_CHUNK: 10000,
};

/**
 * Route groups, and the scope a caller needs for each unless the group is public; health
 * taken off PUBLIC_ROUTES needs valid credentials of any scope.
 */
export const GROUPS = {
  health: null,
  metadata: 'predict',
  infer: 'predict',
  feedback: 'predict',
  metrics: 'metrics',
  admin: 'admin',
  batch: 'batch',
};

function list(text) {
  return String(text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function positive(name, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${value}'`);
  return n;
}

/** BASE_PATH as a prefix: '' or '/a/b', with no trailing slash. */
function basePath(value) {
  const path = String(value ?? '')
    .trim()
    .replace(/\/+$/, '');
  if (path && !/^(\/[A-Za-z0-9._~-]+)+$/.test(path))
    throw new Error(`BASE_PATH must be a path such as /models (segments of letters, digits, . _ ~ -), got '${value}'`);
  return path;
}

/** RATE_LIMIT, RATE_LIMIT_PERIOD, and RATE_LIMIT_REQUESTS (for Durable Object limits). */
function rateLimit(get) {
  const given = String(get('RATE_LIMIT_REQUESTS')).trim();
  const requests = given === '' ? 0 : Number(given);
  if (given !== '' && !(Number.isInteger(requests) && requests >= 1))
    throw new Error(`RATE_LIMIT_REQUESTS must be a whole number of requests a window, at least 1, got '${given}'`);
  const period = Number(get('RATE_LIMIT_PERIOD'));
  if (period !== 10 && period !== 60) {
    throw new Error(
      `RATE_LIMIT_PERIOD must be 10 or 60 (a Rate Limiting binding's period), got '${get('RATE_LIMIT_PERIOD')}'`,
    );
  }
  return { binding: String(get('RATE_LIMIT')).trim(), period, requests };
}

/** TRAFFIC_KV and TRAFFIC_REFRESH_SECONDS (1 to 30). */
function traffic(get) {
  const refresh = Number(get('TRAFFIC_REFRESH_SECONDS'));
  if (!(Number.isInteger(refresh) && refresh >= 1 && refresh <= 30))
    throw new Error(
      `TRAFFIC_REFRESH_SECONDS must be a whole number of seconds from 1 to 30, got '${get('TRAFFIC_REFRESH_SECONDS')}'`,
    );
  return { binding: String(get('TRAFFIC_KV')).trim(), refreshSeconds: refresh };
}

/** BATCH_BUCKET, BATCH_QUEUE, BATCH_DEAD_LETTER_QUEUE and BATCH_ROWS_PER_CHUNK (at most MAX_ROWS_PER_CHUNK). */
function batch(get) {
  const rowsPerChunk = positive('BATCH_ROWS_PER_CHUNK', get('BATCH_ROWS_PER_CHUNK'));
  if (rowsPerChunk > MAX_ROWS_PER_CHUNK)
    throw new Error(`BATCH_ROWS_PER_CHUNK must be at most ${MAX_ROWS_PER_CHUNK}, got '${get('BATCH_ROWS_PER_CHUNK')}'`);
  return {
    bucket: String(get('BATCH_BUCKET')).trim(),
    queue: String(get('BATCH_QUEUE')).trim(),
    deadLetterQueue: String(get('BATCH_DEAD_LETTER_QUEUE')).trim(),
    rowsPerChunk,
  };
}

/** LOG_PREDICTIONS (off, console, queue) and the options the models' logs take. */
function predictionLogs(get) {
  const mode = String(get('LOG_PREDICTIONS')).trim();
  if (!['off', 'console', 'queue'].includes(mode))
    throw new Error(`LOG_PREDICTIONS must be off, console or queue, got '${mode}'`);
  const sampleRate = Number(get('LOG_SAMPLE_RATE'));
  if (!(sampleRate >= 0 && sampleRate <= 1))
    throw new Error(`LOG_SAMPLE_RATE must be between 0 and 1, got '${get('LOG_SAMPLE_RATE')}'`);
  const inputs = String(get('LOG_INPUTS')).trim();
  if (!['true', 'false'].includes(inputs)) throw new Error(`LOG_INPUTS must be true or false, got '${inputs}'`);
  return {
    mode,
    queue: String(get('LOG_QUEUE')),
    options: { sampleRate, includeInputs: inputs === 'true', redact: list(get('LOG_REDACT')) },
  };
}

const cache = new Map();

/** Settings from `env` (string values, as Workers vars and secrets are) over `overrides`. */
export async function resolveSettings(env, overrides) {
  const get = (k) => env?.[k] ?? overrides?.[k] ?? DEFAULTS[k];
  const keys = [
    'API_KEYS',
    'JWT_HS256_SECRET',
    'JWT_EDDSA_PUBLIC_KEY',
    'JWT_AUDIENCE',
    'JWT_ISSUER',
    ...Object.keys(DEFAULTS),
  ];
  const id = JSON.stringify(keys.map(get));
  let settings = cache.get(id);
  if (!settings) {
    const publicRoutes = new Set(list(get('PUBLIC_ROUTES')));
    for (const g of publicRoutes) {
      if (g === 'admin' || g === 'batch')
        throw new Error(
          `PUBLIC_ROUTES names ${g}, whose routes ${g === 'admin' ? 'change the service' : "read the bucket and spend the account's compute"}: they always need credentials`,
        );
      if (!(g in GROUPS))
        throw new Error(`PUBLIC_ROUTES names '${g}'; the route groups are ${Object.keys(GROUPS).join(', ')}`);
    }
    settings = {
      basePath: basePath(get('BASE_PATH')),
      publicRoutes,
      corsOrigins: list(get('CORS_ORIGINS')),
      limits: {
        maxBodyBytes: positive('MAX_BODY_BYTES', get('MAX_BODY_BYTES')),
        maxBatchRows: positive('MAX_BATCH_ROWS', get('MAX_BATCH_ROWS')),
        maxTensorElements: positive('MAX_TENSOR_ELEMENTS', get('MAX_TENSOR_ELEMENTS')),
      },
      log: predictionLogs(get),
      rateLimit: rateLimit(get),
      traffic: traffic(get),
      feedbackQueue: String(get('FEEDBACK_QUEUE')).trim(),
      batch: batch(get),
      auth: {
        apiKeys: await parseApiKeys(get('API_KEYS')),
        jwt: await jwtKeys({ jwtHs256Secret: get('JWT_HS256_SECRET'), jwtEddsaPublicKey: get('JWT_EDDSA_PUBLIC_KEY') }),
        jwtAudience: get('JWT_AUDIENCE'),
        jwtIssuer: get('JWT_ISSUER'),
        jwtMaxLifetime: positive('JWT_MAX_LIFETIME', get('JWT_MAX_LIFETIME')),
      },
    };
    cache.clear();
    cache.set(id, settings);
  }
  return settings;
}
