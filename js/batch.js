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
import Papa from 'papaparse';
import { readCsvFloats } from './core.js';
import { TableError, planColumns, predictRead, predictRows } from './table.js';

export const FORMATS = ['csv', 'jsonl'];
const READ_BYTES = 1 << 20;
/** The most text read ahead without a record ending: past it, a quote is taken as never closed. */
const MAX_CARRY = 1 << 24;

/** A file's format: `given` (--format), else its extension's. */
export function formatOf(path, given) {
  const format = given ?? (/\.csv$/i.test(path) ? 'csv' : /\.(jsonl|ndjson)$/i.test(path) ? 'jsonl' : null);
  if (!FORMATS.includes(format))
    throw new TableError(`${path}: cannot tell its format from its name; use --format ${FORMATS.join('|')}`, 2);
  return format;
}

/** CSV text's records (arrays of fields), with the line each starts on. */
export function csvRecords(text, firstLine) {
  // papaparse takes one kind of line end per text: a file may mix them (CRLF in quoted
  // fields becomes LF here).
  const { data } = Papa.parse(text.includes('\r\n') ? text.replace(/\r\n/g, '\n') : text, {
    delimiter: ',',
    newline: '\n',
  });
  const quoted = text.includes('"');
  const records = [];
  let line = firstLine;
  for (const fields of data) {
    const blank = fields.length === 1 && fields[0] === '';
    if (!blank) records.push({ fields, line });
    line += 1;
    // A quoted field's own line breaks.
    if (quoted) for (const f of fields) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) line++;
  }
  return records;
}

/** JSON Lines text's records, as fields in `header`'s order (a line that is no object is a reason). */
function jsonRecords(text, firstLine, header) {
  const records = [];
  text.split('\n').forEach((raw, i) => {
    const line = firstLine + i;
    if (!raw.trim()) return;
    try {
      const value = JSON.parse(raw);
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('is not a JSON object');
      records.push({ fields: header.map((h) => (Object.hasOwn(value, h) ? value[h] : undefined)), line });
    } catch (e) {
      records.push({ line, reason: `not a JSON object: ${e.message}` });
    }
  });
  return records;
}

const quote = (s) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** A float32 in at most 9 significant digits: enough to read back the same float32. */
const float32 = (v) => Number(v.toPrecision(9));

/** A float32 in CSV: at most 9 significant digits, enough to read back the same float32. */
const csvFloat32 = (v) => (Number.isFinite(v) ? String(float32(v)) : Number.isNaN(v) ? '' : String(v));

/** A number in a CSV: NaN as an empty field (as pandas writes it), bools as true and false. */
function csvCell(dtype) {
  if (dtype === 'float32') return csvFloat32;
  if (dtype === 'bool') return (v) => (v ? 'true' : 'false');
  if (dtype === 'string') return quote;
  return (v) => (typeof v === 'number' && Number.isNaN(v) ? '' : String(v));
}

/** A value in JSON: int64 beyond 2^53 as a decimal string, NaN and infinities as null. */
function jsonValue(v, dtype) {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (dtype === 'bool') return Boolean(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return dtype === 'float32' ? float32(v) : v;
}

/** One output's columns, and its values for row `r` as CSV text (each cell after a comma) and as JSON. */
function outputFormat(name, t) {
  if (t.dtype === 'map') {
    const labels = Object.keys(t.data[0] ?? {});
    return {
      columns: labels.map((l) => `${name}_${l}`),
      csv: (r) => {
        let text = '';
        const row = t.data[r];
        for (const l of labels) text += `,${csvFloat32(row[l])}`;
        return text;
      },
      json: (r) => Object.fromEntries(labels.map((l) => [l, jsonValue(t.data[r][l], 'float32')])),
    };
  }
  const k = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const cell = csvCell(t.dtype);
  return {
    columns: k === 1 ? [name] : Array.from({ length: k }, (_, i) => `${name}_${i}`),
    csv: (r) => {
      let text = '';
      for (let i = r * k; i < (r + 1) * k; i++) text += `,${cell(t.data[i])}`;
      return text;
    },
    json: (r) =>
      k === 1
        ? jsonValue(t.data[r], t.dtype)
        : Array.from(t.data.slice(r * k, (r + 1) * k), (v) => jsonValue(v, t.dtype)),
  };
}

/** Whether the job reads CSV into one float32 matrix: the core then reads the chunk (see `predictFloatRows`). */
const floatMatrix = (job) =>
  job.input === 'csv' && job.plan.kind === 'matrix' && job.plan.inputs[0].dtype === 'float32';

/**
 * `predictRows` for a CSV chunk read by the core straight into the float32 matrix, with the
 * same rows and reasons as the JS reader: strings and numbers never cross into JS but the
 * kept fields (src/table.rs says why).
 */
async function predictFloatRows(model, job, chunk, firstLine) {
  const [input] = job.plan.inputs;
  const { kept } = job.plan;
  const read = readCsvFloats(chunk, job.header, input.columns, kept, firstLine);
  const rows = Array.from(read.lines, (line, r) => {
    const fields = [];
    kept.forEach((k, j) => (fields[k] = read.kept[r * kept.length + j]));
    return { line, fields };
  });
  const feeds = [{ input, width: input.columns.length, data: read.values }];
  return predictRead(model, feeds, rows, read.rejects);
}

/**
 * Scores one chunk of the input: its records are read (those that cannot be go to the
 * rejects with their line and why), predicted together (one by one if the model refuses
 * the chunk, to find the rows it refuses) and formatted. Returns the output text, the
 * rejects' text, counts, and the output's columns.
 */
export async function scoreChunk(model, job, chunk, firstLine) {
  const { rows, outputs, rejects } = floatMatrix(job)
    ? await predictFloatRows(model, job, chunk, firstLine)
    : await predictRows(
        model,
        job,
        job.input === 'csv'
          ? csvRecords(UTF8.decode(chunk), firstLine)
          : jsonRecords(UTF8.decode(chunk), firstLine, job.header),
      );
  const { kept } = job.plan;
  const lines = [];
  const formats = Object.entries(outputs ?? {}).map(([name, t]) => outputFormat(name, t));
  const columns = outputs ? [...kept.map((k) => job.header[k]), ...formats.flatMap((f) => f.columns)] : null;
  rows.forEach(({ fields }, r) => {
    if (job.output === 'csv') {
      let line = kept.map((k) => quote(String(fields[k] ?? ''))).join(',');
      for (const f of formats) line += f.csv(r);
      lines.push(kept.length ? line : line.slice(1));
    } else {
      const object = Object.fromEntries(kept.map((k) => [job.header[k], fields[k]]));
      Object.keys(outputs).forEach((name, i) => (object[name] = formats[i].json(r)));
      lines.push(JSON.stringify(object));
    }
  });
  return {
    out: lines.length ? `${lines.join('\n')}\n` : '',
    rejects: rejects.map(([line, reason]) => `${line},${quote(reason)}\n`).join(''),
    rows: lines.length,
    rejected: rejects.length,
    columns,
  };
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;

/**
 * Where the first `lines` lines of `bytes` end at a record's end, or 0 if they do not yet: a
 * line break ends a record when the quotes before it are even. One pass; both are ASCII, so
 * no UTF-8 sequence holds either byte.
 */
function boundary(bytes, lines, csv) {
  let at = -1;
  for (let n = 0; n < lines; n++) {
    at = bytes.indexOf(NEWLINE, at + 1);
    if (at < 0) return 0;
  }
  let quote = csv ? bytes.indexOf(QUOTE) : -1;
  let open = false;
  for (;;) {
    for (; quote >= 0 && quote < at; quote = bytes.indexOf(QUOTE, quote + 1)) open = !open;
    if (!open) return at + 1;
    at = bytes.indexOf(NEWLINE, at + 1);
    if (at < 0) return 0;
  }
}

/**
 * The bytes of `path` from byte `start`, in chunks of about `lines` lines, each ending at a
 * record's end: bytes, not text, so that the core reads them as they are (and a chunk's size
 * is its length).
 */
async function* chunksOf(path, start, lines, csv) {
  const file = await open(path);
  let carry = Buffer.alloc(0);
  let position = start;
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await file.read(buffer, 0, READ_BYTES, position);
      position += bytesRead;
      carry = carry.length ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
      for (let cut = boundary(carry, lines, csv); cut > 0; cut = boundary(carry, lines, csv)) {
        // A copy of its own, to move to a worker thread without the rest.
        yield Uint8Array.prototype.slice.call(carry, 0, cut);
        carry = carry.subarray(cut);
      }
      if (!bytesRead) {
        if (carry.length) yield Uint8Array.prototype.slice.call(carry);
        return;
      }
      if (carry.length > MAX_CARRY)
        throw new TableError(
          `${path}: no record ends within ${MAX_CARRY >> 20} MB after byte ${position - carry.length}: a quoted field is never closed`,
        );
    }
  } finally {
    await file.close();
  }
}

const UTF8 = new TextDecoder();

/** The input's column names, the byte its data starts at, and the line of its first row. */
async function readHeader(path, format) {
  for await (const bytes of chunksOf(path, 0, 1, format === 'csv')) {
    const text = UTF8.decode(bytes);
    if (format === 'csv') {
      // The decoder has dropped a byte-order mark.
      const header = csvRecords(text, 1)[0]?.fields ?? [];
      if (header.every((h) => h.trim() === '')) throw new TableError(`${path}: the first line should name the columns`);
      return { header: header.map((h) => h.trim()), start: bytes.length, line: 2 };
    }
    if (!text.trim()) continue;
    let first;
    try {
      first = JSON.parse(text);
    } catch (e) {
      throw new TableError(`${path}: the first line is not JSON: ${e.message}`);
    }
    if (!first || typeof first !== 'object' || Array.isArray(first))
      throw new TableError(`${path}: each line should be a JSON object naming the columns`);
    return { header: Object.keys(first), start: 0, line: 1 };
  }
  throw new TableError(`${path}: the file is empty`);
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
  if (!options.resume) state.rejectsBytes += (await rejects.write('line,reason\n', state.rejectsBytes)).bytesWritten;
  const pool = threads > 1 ? new Pool(threads, { model: options.model, loadOptions: options.loadOptions }) : null;
  let model = null;
  try {
    model = pool ? await pool.schema : await options.load();
    job.header = head.header;
    job.plan = planColumns(model, head.header, options);
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
    if (state.out === 0 && result.columns && job.output === 'csv')
      state.out += (await out.write(`${result.columns.map(quote).join(',')}\n`, state.out)).bytesWritten;
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
    for await (const chunk of chunksOf(input, state.bytes, batchSize, job.input === 'csv')) {
      let lines = 0;
      for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) lines++;
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
