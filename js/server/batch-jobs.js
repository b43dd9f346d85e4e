// Batch jobs on Cloudflare: a table in an R2 bucket scored by the Worker's own queue consumer,
// chunk by chunk, into the same bucket. Submitting reads the table once to cut it at record
// boundaries (every chunk knows its bytes and its first line, so rejects name the file's
// lines), checks its columns against the model, and sends one message per chunk. Cloudflare
// Queues deliver them, retry a consumer that fails, and move a chunk that fails every retry
// to the dead-letter queue, whose consumer records the failure. A chunk's output has a fixed
// key, written before the chunk is marked done, so a retried chunk overwrites its own output
// and never duplicates rows. State lives in the bucket only (R2 lists are strongly
// consistent): jobs/{id}/job.json, output/ and rejects/ parts, done/ and failed/ markers, and
// manifest.json once every chunk is done.
import { HttpError, fromModelError, json } from './http.js';
import {
  REJECTS_HEADER,
  formatOf,
  outputHeader,
  planJob,
  recordChunks,
  scoreChunk,
  tableHeader,
  FORMATS,
} from '../chunks.js';

/** The most rows a chunk may ask for: a chunk is read whole into one consumer's memory. */
export const MAX_ROWS_PER_CHUNK = 100000;
/** Messages per `sendBatch`: Cloudflare Queues' limit. */
const SEND_BATCH = 100;
const FIELDS = ['model', 'version', 'input', 'format', 'output_format', 'keep', 'features', 'rows_per_chunk'];

const part = (i) => String(i).padStart(6, '0');
const KEYS = {
  job: (id) => `jobs/${id}/job.json`,
  output: (id, i, format) => `jobs/${id}/output/part-${part(i)}.${format}`,
  rejects: (id, i) => `jobs/${id}/rejects/part-${part(i)}.csv`,
  done: (id) => `jobs/${id}/done/`,
  failed: (id) => `jobs/${id}/failed/`,
  error: (id, i) => `jobs/${id}/errors/${part(i)}`,
  manifest: (id) => `jobs/${id}/manifest.json`,
};
/** The files of a job a caller may download. */
const JOB_FILE = /^(?:(?:output\/part-\d{6}\.(?:csv|jsonl))|(?:rejects\/part-\d{6}\.csv)|manifest\.json)$/;

/** The bucket and the queue, or 409 naming the bindings a deployment lacks. */
function bindings(env, settings) {
  const { bucket, queue } = settings.batch;
  const b = env?.[bucket];
  const q = env?.[queue];
  if (typeof b?.get !== 'function' || typeof q?.sendBatch !== 'function')
    throw new HttpError(
      409,
      `batch jobs need an R2 bucket bound as '${bucket}' and a Queue producer bound as '${queue}' ` +
        '(`edgeinfer worker --batch` writes both in wrangler.toml)',
    );
  return { bucket: b, queue: q };
}

const strings = (body, field) => {
  const v = body[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s))
    throw new HttpError(400, `'${field}' must be an array of column names`);
  return v;
};

/** A job request's fields, checked; 400 naming the first that is wrong. */
function parseJobRequest(body, defaults) {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, `a batch job is a JSON object with ${FIELDS.join(', ')}`);
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length)
    throw new HttpError(
      400,
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; a job has ${FIELDS.join(', ')}`,
    );
  if (typeof body.model !== 'string' || !body.model) throw new HttpError(400, "'model' must name a model");
  const { version } = body;
  if (version !== undefined && typeof version !== 'string' && !Number.isFinite(version))
    throw new HttpError(400, "'version' must be a string or a number");
  if (typeof body.input !== 'string' || !body.input || body.input.length > 1024)
    throw new HttpError(400, "'input' must be the key of the table's object in the bucket (1 to 1024 characters)");
  for (const f of ['format', 'output_format'])
    if (body[f] !== undefined && !FORMATS.includes(body[f]))
      throw new HttpError(400, `'${f}' must be one of ${FORMATS.join(', ')}`);
  const rows = body.rows_per_chunk ?? defaults.rowsPerChunk;
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_ROWS_PER_CHUNK)
    throw new HttpError(400, `'rows_per_chunk' must be a whole number from 1 to ${MAX_ROWS_PER_CHUNK}`);
  let input;
  try {
    input = formatOf(body.input, body.format);
  } catch {
    throw new HttpError(
      400,
      `cannot tell the format of '${body.input}' from its name: give 'format' (${FORMATS.join(', ')})`,
    );
  }
  return {
    model: body.model,
    version: version === undefined ? undefined : String(version),
    key: body.input,
    input,
    output: body.output_format ?? input,
    keep: strings(body, 'keep'),
    features: strings(body, 'features'),
    rows,
  };
}

/** An R2 body's reads, as `recordChunks` takes them; the stream is cancelled when left early. */
async function* streamReads(stream) {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** A table's error (a column missing, a quote never closed) as the HTTP error a submitter gets. */
function tableError(e, key) {
  if (e instanceof HttpError || !e?.code) return e;
  return fromModelError(Object.assign(e, { message: `${key}: ${e.message}` }));
}

/** The input's header and where its data starts: read until its first record. */
async function readHeader(bucket, spec) {
  const object = await bucket.get(spec.key);
  if (!object) throw new HttpError(404, `the bucket has no object '${spec.key}'`);
  const head = await tableHeader(streamReads(object.body), spec.input, spec.key);
  if (!head) throw new HttpError(422, `${spec.key}: the table is empty`);
  return { ...head, etag: object.etag, size: object.size };
}

/** The chunks of the input's data: [first byte, length, first line] each. */
async function cut(bucket, spec, head) {
  if (head.start >= head.size) return [];
  const object = await bucket.get(spec.key, { range: { offset: head.start }, onlyIf: { etagMatches: head.etag } });
  if (!object?.body) throw new HttpError(409, `${spec.key} changed while the job was being planned; submit it again`);
  const chunks = [];
  let at = head.start;
  let line = head.line;
  for await (const chunk of recordChunks(streamReads(object.body), spec.rows, spec.input === 'csv', spec.key, at)) {
    chunks.push([at, chunk.bytes.length, line]);
    at += chunk.bytes.length;
    line += chunk.lines;
  }
  return chunks;
}

/**
 * POST /v2/batch/jobs: plans the job (the model's version is pinned at submission), writes
 * it to the bucket and queues its chunks. `resolve(name, version)` is the model entry the
 * job runs on, as a prediction would get it.
 */
export async function submitJob(ctx, body, resolve) {
  const { bucket, queue } = bindings(ctx.env, ctx.settings);
  const spec = parseJobRequest(body, ctx.settings.batch);
  const entry = await resolve(spec.model, spec.version);
  let job;
  try {
    const head = await readHeader(bucket, spec);
    const run = planJob(entry.model, { ...spec, header: head.header });
    const id = crypto.randomUUID();
    job = {
      id,
      model: entry.name,
      version: entry.version,
      by: ctx.who.name,
      input: { key: spec.key, etag: head.etag, size: head.size },
      run,
      chunks: await cut(bucket, spec, head),
      created: new Date().toISOString(),
    };
  } catch (e) {
    throw tableError(e, spec.key);
  }
  await bucket.put(KEYS.job(job.id), JSON.stringify(job), { httpMetadata: { contentType: 'application/json' } });
  try {
    const messages = job.chunks.map((_, i) => ({ body: { job: job.id, chunk: i } }));
    for (let i = 0; i < messages.length; i += SEND_BATCH) await queue.sendBatch(messages.slice(i, i + SEND_BATCH));
  } catch (e) {
    // Chunks already sent find no job and are dropped.
    await bucket.delete(KEYS.job(job.id)).catch(() => {});
    console.error(`edgeinfer: batch job ${job.id}: queueing its chunks failed: ${e.message}`);
    throw new HttpError(503, 'the job could not be queued; submit it again');
  }
  if (!job.chunks.length) await writeManifest(bucket, job, []);
  return json({ ...(await describe(bucket, job)), rows_per_chunk: spec.rows }, 202, {
    location: `${ctx.settings.basePath}/v2/batch/jobs/${job.id}`,
  });
}

/** Every object under `prefix`, with its custom metadata. */
async function listAll(bucket, prefix) {
  const objects = [];
  let cursor;
  do {
    const page = await bucket.list({ prefix, cursor, include: ['customMetadata'] });
    objects.push(...page.objects);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return objects;
}

const chunkOf = (key) => Number(key.slice(key.lastIndexOf('/') + 1));

/** A job's state as GET /v2/batch/jobs/{id} gives it. */
async function describe(bucket, job) {
  const [done, failed] = await Promise.all([listAll(bucket, KEYS.done(job.id)), listAll(bucket, KEYS.failed(job.id))]);
  const sum = (field) => done.reduce((n, o) => n + Number(o.customMetadata?.[field] ?? 0), 0);
  const total = job.chunks.length;
  const status = failed.length ? 'failed' : done.length === total ? 'completed' : 'running';
  return {
    id: job.id,
    model_name: job.model,
    model_version: job.version,
    input: job.input.key,
    status,
    chunks: { total, done: done.length, failed: failed.length },
    rows: sum('rows'),
    rejected: sum('rejected'),
    ...(failed.length && {
      failures: failed.map((o) => ({
        chunk: chunkOf(o.key),
        lines: lines(job, chunkOf(o.key)),
        attempts: Number(o.customMetadata?.attempts ?? 0),
        error: o.customMetadata?.error ?? 'unknown',
      })),
    }),
    ...(status === 'completed' && { manifest: KEYS.manifest(job.id) }),
    created: job.created,
  };
}

/** The first and last line of a chunk, for a failure's report. */
function lines(job, i) {
  const next = job.chunks[i + 1];
  return [job.chunks[i][2], next ? next[2] - 1 : null];
}

/** The jobs this isolate has read lately: a job's record never changes. */
const jobs = new Map();

async function readJob(bucket, id) {
  if (jobs.has(id)) return jobs.get(id);
  const object = await bucket.get(KEYS.job(id));
  if (!object) return null;
  const job = await object.json();
  if (jobs.size >= 64) jobs.delete(jobs.keys().next().value);
  jobs.set(id, job);
  return job;
}

/** The job a request names, if its caller submitted it (or is an admin); else 404. */
async function ownJob(ctx) {
  const { bucket } = bindings(ctx.env, ctx.settings);
  const { id } = ctx.params;
  const job = /^[0-9a-f-]{36}$/.test(id) ? await readJob(bucket, id) : null;
  if (!job || (job.by !== ctx.who.name && !ctx.who.scopes.has('admin')))
    throw new HttpError(404, `no batch job '${id}' of yours`);
  return { bucket, job };
}

/** GET /v2/batch/jobs/{id}. */
export async function jobStatus(ctx) {
  const { bucket, job } = await ownJob(ctx);
  return json(await describe(bucket, job));
}

/** GET /v2/batch/jobs/{id}/{file}: an output or rejects part, or the manifest. */
export async function jobFile(ctx) {
  const { bucket, job } = await ownJob(ctx);
  const { file } = ctx.params;
  if (!JOB_FILE.test(file))
    throw new HttpError(
      404,
      `a job's files are output/part-NNNNNN.${job.run.output}, rejects/part-NNNNNN.csv and manifest.json`,
    );
  const object = await bucket.get(`jobs/${job.id}/${file}`);
  if (!object) throw new HttpError(404, `job ${job.id} has no ${file} (yet)`);
  const type = file.endsWith('.json')
    ? 'application/json'
    : file.endsWith('.jsonl')
      ? 'application/x-ndjson'
      : 'text/csv';
  return new Response(object.body, { headers: { 'content-type': type, 'content-length': String(object.size) } });
}

async function writeManifest(bucket, job, done) {
  const counts = new Map(done.map((o) => [chunkOf(o.key), o.customMetadata ?? {}]));
  const parts = job.chunks.map((_, i) => {
    const c = counts.get(i) ?? {};
    const rejected = Number(c.rejected ?? 0);
    return {
      output: KEYS.output(job.id, i, job.run.output),
      attempts: Number(c.attempts ?? 0),
      rows: Number(c.rows ?? 0),
      rejected,
      ...(rejected && { rejects: KEYS.rejects(job.id, i) }),
    };
  });
  const manifest = {
    id: job.id,
    model_name: job.model,
    model_version: job.version,
    input: job.input.key,
    format: job.run.output,
    rows: parts.reduce((n, p) => n + p.rows, 0),
    rejected: parts.reduce((n, p) => n + p.rejected, 0),
    parts,
    completed: new Date().toISOString(),
  };
  await bucket.put(KEYS.manifest(job.id), JSON.stringify(manifest, null, 2), {
    httpMetadata: { contentType: 'application/json' },
  });
}

/** A chunk that cannot succeed however often it is tried. */
class Permanent extends Error {}

/**
 * Scores the message's chunk of `job` into the bucket: output (and rejects) first, then the
 * marker saying it is done, then the manifest if it was the last.
 */
async function scorePart(bucket, models, job, message) {
  const { id } = job;
  const i = message.body.chunk;
  let entry;
  try {
    entry = await models.get(job.model, job.version);
  } catch (e) {
    if (e instanceof HttpError && e.status === 404)
      throw new Permanent(`model '${job.model}' version ${job.version} is no longer served`);
    throw e;
  }
  const [start, length, line] = job.chunks[i];
  const object = await bucket.get(job.input.key, {
    range: { offset: start, length },
    onlyIf: { etagMatches: job.input.etag },
  });
  if (!object?.body) throw new Permanent(`the input '${job.input.key}' was replaced or deleted after the job started`);
  const bytes = new Uint8Array(await object.arrayBuffer());
  const result = await scoreChunk(entry.model, job.run, bytes, line);
  await bucket.put(KEYS.output(id, i, job.run.output), outputHeader(job.run, result.columns) + result.out);
  if (result.rejected) await bucket.put(KEYS.rejects(id, i), REJECTS_HEADER + result.rejects);
  await bucket.put(`${KEYS.done(id)}${part(i)}`, '', {
    customMetadata: {
      rows: String(result.rows),
      rejected: String(result.rejected),
      attempts: String(message.attempts),
    },
  });
  const done = await listAll(bucket, KEYS.done(id));
  if (done.length === job.chunks.length) await writeManifest(bucket, job, done);
}

/** Marks a chunk failed for good, with why and after how many attempts. */
async function fail(bucket, id, i, attempts, error) {
  await bucket.put(`${KEYS.failed(id)}${part(i)}`, '', {
    customMetadata: { attempts: String(attempts), error: error.slice(0, 1000) },
  });
}

/**
 * The queue consumer: each message is one chunk. A chunk that fails is retried by the queue
 * (its last error kept for the report); one the dead-letter queue delivers failed every
 * retry and is marked failed. `settings.batch.deadLetterQueue` names that queue.
 */
export async function consumeBatch(batch, { env, settings, models }) {
  const bucket = env?.[settings.batch.bucket];
  if (typeof bucket?.get !== 'function')
    throw new Error(`batch chunks arrived but no R2 bucket is bound as '${settings.batch.bucket}'`);
  for (const message of batch.messages) {
    const { job: id, chunk: i } = message.body ?? {};
    const where = `batch job ${id} chunk ${i}`;
    if (!(typeof id === 'string' && Number.isInteger(i) && (await readJob(bucket, id))?.chunks[i])) {
      console.error(`edgeinfer: ${where}: no such job or chunk; dropped`);
      message.ack();
      continue;
    }
    if (batch.queue === settings.batch.deadLetterQueue) {
      // The dead-letter queue counts its own deliveries: the attempts are the last error's.
      const last = await bucket.get(KEYS.error(id, i));
      const attempts = Number(last?.customMetadata?.attempts ?? 0);
      await fail(bucket, id, i, attempts, last ? await last.text() : 'failed every retry');
      message.ack();
      continue;
    }
    try {
      await scorePart(bucket, models, await readJob(bucket, id), message);
      message.ack();
    } catch (e) {
      const error = `${e?.code ? `${e.code}: ` : ''}${e?.message ?? e}`;
      console.error(`edgeinfer: ${where} failed (attempt ${message.attempts}): ${error}`);
      if (e instanceof Permanent) {
        await fail(bucket, id, i, message.attempts, error);
        message.ack();
      } else {
        await bucket
          .put(KEYS.error(id, i), error, { customMetadata: { attempts: String(message.attempts) } })
          .catch(() => {});
        message.retry();
      }
    }
  }
}
