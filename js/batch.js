// Batch scoring of a file of any size: `edgeinfer batch`. The input is read in chunks cut at
// record boundaries, each chunk is parsed, scored and formatted on its own (on worker threads
// when there are several), and the outputs are written in input order, so memory stays flat
// whatever the file's size. Rows that cannot be read go to a rejects file and the job goes on.
// After each chunk written, a checkpoint beside the output records how far the input, the
// output and the rejects have got: `--resume` truncates both files to it and reads on from
// there, so a killed job resumed writes every row exactly once.
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { REJECTS_HEADER, formatOf, outputHeader, planJob, recordChunks, scoreChunk, tableHeader } from './chunks.js';
import { TableError } from './table.js';

const READ_BYTES = 1 << 20;

/** The reads of `path` from byte `start`, a megabyte at a time. */
async function* fileReads(path, start) {
  const file = await open(path);
  try {
    for (let position = start; ;) {
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await file.read(buffer, 0, READ_BYTES, position);
      if (!bytesRead) return;
      position += bytesRead;
      yield new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** `path`'s bytes from `start` in chunks of about `lines` lines (see `recordChunks`). */
const chunksOf = (path, start, lines, csv) => recordChunks(fileReads(path, start), lines, csv, path, start);

/** The input's column names, the byte its data starts at, and the line of its first row. */
async function readHeader(path, format) {
  const head = await tableHeader(fileReads(path, 0), format, path);
  if (!head) throw new TableError(`${path}: the file is empty`);
  return head;
}

/**
 * Scores chunks on worker threads, each with its own copy of the model. The main thread
 * loads none: `schema` is the model's inputs and metadata as the first worker reports them,
 * to plan the job, which `start` then sends to every worker.
 */
class Pool {
  #workers;
  #pending = new Map();
  #failed = null;
  schema;

  constructor(n, workerData) {
    this.#workers = Array.from(
      { length: n },
      () => new Worker(new URL('./batch-worker.js', import.meta.url), { workerData }),
    );
    const ready = this.#workers.map(
      (w) =>
        new Promise((resolve, reject) => {
          w.once('message', (m) =>
            m.error ? reject(new Error(`${workerData.model}: ${m.error.code}: ${m.error.message}`)) : resolve(m),
          );
          w.once('error', reject);
        }),
    );
    this.schema = Promise.all(ready).then(([first]) => first.schema);
    this.schema.catch(() => {});
    for (const w of this.#workers) {
      w.on('message', (m) => {
        const p = this.#pending.get(m.seq);
        if (!p) return;
        this.#pending.delete(m.seq);
        if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else p.resolve(m);
      });
      w.on('error', (e) => {
        this.#failed = e;
        for (const p of this.#pending.values()) p.reject(e);
        this.#pending.clear();
      });
    }
  }

  start(job) {
    for (const w of this.#workers) w.postMessage({ job });
  }

  score(seq, chunk, line) {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      this.#workers[seq % this.#workers.length].postMessage({ seq, chunk, line }, [chunk.buffer]);
    });
  }

  close() {
    return Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/** Reports progress on a terminal at most four times a second: rows, rate, share and time left. */
function progress(enabled, size) {
  const started = performance.now();
  let shown = 0;
  return (state, done = false) => {
    if (!enabled) return;
    const now = performance.now();
    if (!done && now - shown < 250) return;
    shown = now;
    const seconds = (now - started) / 1000;
    const share = size ? state.bytes / size : 1;
    const rate = state.rows / Math.max(seconds, 1e-3);
    const left = share > 0 ? (seconds / share) * (1 - share) : 0;
    process.stderr.write(
      `\r${state.rows.toLocaleString('en')} rows, ${Math.round(rate).toLocaleString('en')} rows/s, ` +
        `${(share * 100).toFixed(0)}%, ${done ? 'done' : `${left.toFixed(0)} s left`}  ${done ? '\n' : ''}`,
    );
  };
}

/**
 * Runs a batch job. `options`: input and output paths, `format` (else each file's extension),
 * `batchSize` (lines per chunk), `keep` (columns copied through), `features` (the model's
 * feature names, where it has none), `threads`, `rejects` (path), `resume`, `progress`
 * (show it), and `load(options)` and `model` (a path, for worker threads) to load the model.
 * Returns the counts; rejected rows do not fail the job.
 */
export async function runBatch(options) {
  const { input, output, batchSize = 4096, threads = 1 } = options;
  const job = { input: formatOf(input, options.format), output: formatOf(output, options.format) };
  const { size, mtimeMs } = await stat(input).catch((e) => {
    throw new TableError(`${input}: ${e.message}`);
  });
  const head = await readHeader(input, job.input);
  const checkpoint = `${output}.progress.json`;
  const rejectsPath = options.rejects ?? `${output}.rejects.csv`;
  let state = {
    input: { size, mtimeMs },
    bytes: head.start,
    line: head.line,
    out: 0,
    rejectsBytes: 0,
    rows: 0,
    rejected: 0,
  };
  if (options.resume) {
    const saved = await readFile(checkpoint, 'utf8').then(JSON.parse, () => null);
    if (!saved)
      throw new TableError(`nothing to resume: ${checkpoint} is not there (the job finished, or never started)`);
    if (saved.input.size !== size || saved.input.mtimeMs !== mtimeMs)
      throw new TableError(`${input} changed since the job started: start it again without --resume`);
    state = saved;
  }
  const out = await open(output, options.resume ? 'r+' : 'w').catch((e) => {
    throw new TableError(`${output}: ${e.message}`);
  });
  const rejects = await open(rejectsPath, options.resume ? 'r+' : 'w').catch(async (e) => {
    await out.close();
    throw new TableError(`${rejectsPath}: ${e.message}`);
  });
  await out.truncate(state.out);
  await rejects.truncate(state.rejectsBytes);
  if (!options.resume) state.rejectsBytes += (await rejects.write(REJECTS_HEADER, state.rejectsBytes)).bytesWritten;
  const pool = threads > 1 ? new Pool(threads, { model: options.model, loadOptions: options.loadOptions }) : null;
  let model = null;
  try {
    model = pool ? await pool.schema : await options.load();
    Object.assign(job, planJob(model, { ...job, header: head.header, keep: options.keep, features: options.features }));
  } catch (e) {
    await Promise.all([pool?.close(), out.close(), rejects.close()]);
    throw e;
  }
  pool?.start(job);
  const score = pool
    ? (seq, chunk, line) => pool.score(seq, chunk, line)
    : (_, chunk, line) => scoreChunk(model, job, chunk, line);
  const show = progress(options.progress, size);
  const inFlight = [];
  const write = async ({ result, bytes, lines }) => {
    const first = state.out === 0 ? outputHeader(job, result.columns) : '';
    if (first) state.out += (await out.write(first, state.out)).bytesWritten;
    if (result.out) state.out += (await out.write(result.out, state.out)).bytesWritten;
    if (result.rejects) state.rejectsBytes += (await rejects.write(result.rejects, state.rejectsBytes)).bytesWritten;
    Object.assign(state, { bytes: state.bytes + bytes, line: state.line + lines });
    state.rows += result.rows;
    state.rejected += result.rejected;
    await writeFile(`${checkpoint}.tmp`, JSON.stringify(state));
    await rename(`${checkpoint}.tmp`, checkpoint);
    show(state);
  };
  try {
    let seq = 0;
    let line = state.line;
    for await (const { bytes: chunk, lines } of chunksOf(input, state.bytes, batchSize, job.input === 'csv')) {
      const bytes = chunk.length;
      inFlight.push(score(seq++, chunk, line).then((result) => ({ result, bytes, lines })));
      line += lines;
      while (inFlight.length >= 2 * threads) await write(await inFlight.shift());
    }
    while (inFlight.length) await write(await inFlight.shift());
  } finally {
    await Promise.allSettled(inFlight);
    await out.close();
    await rejects.close();
    if (pool) await pool.close();
    else model.dispose();
  }
  show(state, true);
  await rm(checkpoint, { force: true });
  if (!state.rejected) await rm(rejectsPath, { force: true });
  return { rows: state.rows, rejected: state.rejected, rejects: state.rejected ? rejectsPath : null, columns: null };
}

/** The number of threads `--threads` means by default: one per core. */
export const defaultThreads = () => availableParallelism();
