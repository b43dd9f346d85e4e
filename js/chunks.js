// A table's text in chunks, and each chunk scored: shared by `edgeinfer batch` (js/batch.js,
// reading a file) and the server's batch jobs (js/server/batch-jobs.js, reading an R2
// object), so that both cut a file at the same records and write the same rows. Chunks are
// bytes cut at record boundaries; each is parsed, predicted and formatted on its own. It runs
// in every runtime.
import Papa from 'papaparse';
import { csvFloat32Cells, readCsvFloats } from './core.js';
import { TableError, planColumns, predictRead, predictRows } from './table.js';

const UTF8 = new TextDecoder();

export const FORMATS = ['csv', 'jsonl'];
/** A rejects file's first line: each rejected row's line and why. */
export const REJECTS_HEADER = 'line,reason\n';
/** The most text read past a record's end inside quotes: past it, a quote is taken as never closed. */
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

/** A number in a CSV: NaN as an empty field (as pandas writes it), bools as true and false. */
function csvCell(dtype) {
  if (dtype === 'bool') return (v) => (v ? 'true' : 'false');
  if (dtype === 'string') return quote;
  return (v) => (typeof v === 'number' && Number.isNaN(v) ? '' : String(v));
}

/** A value in JSON: int64 beyond 2^53 as a decimal string, NaN and infinities as null. */
function jsonValue(v, dtype) {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  if (dtype === 'bool') return Boolean(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

/**
 * A float32 matrix of `k` columns, row by row, as CSV cells (each after a comma) written by
 * the core in the fewest digits that read back as the same float32, and as JSON numbers of
 * the same digits (NaN and infinities null); each made on first use.
 */
function float32Rows(values, k) {
  let cells, numbers;
  const csv = (r) => (cells ??= csvFloat32Cells(values, k).split('\n'))[r];
  const json = (r) => {
    numbers ??= [];
    return (numbers[r] ??= csv(r)
      .slice(1)
      .split(',')
      .map((s) => (s === '' || !Number.isFinite(+s) ? null : Number(s))));
  };
  return { csv, json };
}

/** One output's columns, and its values for row `r` as CSV text (each cell after a comma) and as JSON. */
function outputFormat(name, t) {
  if (t.dtype === 'map') {
    const labels = Object.keys(t.data[0] ?? {});
    const values = new Float32Array(t.data.length * labels.length);
    t.data.forEach((row, r) => labels.forEach((l, j) => (values[r * labels.length + j] = row[l])));
    const rows = float32Rows(values, labels.length);
    return {
      columns: labels.map((l) => `${name}_${l}`),
      csv: rows.csv,
      json: (r) => Object.fromEntries(rows.json(r).map((v, j) => [labels[j], v])),
    };
  }
  const k = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const columns = k === 1 ? [name] : Array.from({ length: k }, (_, i) => `${name}_${i}`);
  if (t.dtype === 'float32') {
    const rows = float32Rows(t.data, k);
    return { columns, csv: rows.csv, json: (r) => (k === 1 ? rows.json(r)[0] : rows.json(r)) };
  }
  const cell = csvCell(t.dtype);
  return {
    columns,
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
 * The bytes of `reads` (an async iterable of byte arrays: a file's reads, an R2 object's
 * stream) in chunks of at least `lines` line breaks, each ending at a record's end (a line
 * break with the quotes before it even; both bytes are ASCII, so no UTF-8 sequence holds
 * either), as `{ bytes, lines }`: a copy of its own (to move to a worker thread without the
 * rest) and its line breaks. Each byte is scanned once. `name` and `start` (the byte the reads
 * begin at) name the place of a quote never closed.
 */
export async function* recordChunks(reads, lines, csv, name, start = 0) {
  let carry = new Uint8Array(0);
  let position = start;
  // carry[0, scanned) is scanned: its line breaks, whether a quote is open at its end, where
  // its last record ended, and the next quote at or after it (Infinity: none in carry).
  let scanned = 0;
  let breaks = 0;
  let open = false;
  let recordEnd = 0;
  let quote = Infinity;
  const next = (from) => {
    const q = carry.indexOf(QUOTE, from);
    return q < 0 ? Infinity : q;
  };
  for await (const read of reads) {
    position += read.length;
    const old = carry.length;
    if (old) {
      const joined = new Uint8Array(old + read.length);
      joined.set(carry);
      joined.set(read, old);
      carry = joined;
    } else carry = read;
    if (csv && quote === Infinity) quote = next(old);
    for (let nl = carry.indexOf(NEWLINE, scanned); nl >= 0; nl = carry.indexOf(NEWLINE, scanned)) {
      for (; quote < nl; quote = next(quote + 1)) open = !open;
      scanned = nl + 1;
      breaks++;
      if (open) continue;
      recordEnd = scanned;
      if (breaks < lines) continue;
      yield { bytes: carry.slice(0, scanned), lines: breaks };
      carry = carry.subarray(scanned);
      quote -= scanned;
      scanned = breaks = recordEnd = 0;
    }
    if (open && carry.length - recordEnd > MAX_CARRY)
      throw new TableError(
        `${name}: no record ends within ${MAX_CARRY >> 20} MB after byte ${position - carry.length + recordEnd}: a quoted field is never closed`,
      );
  }
  if (carry.length) yield { bytes: carry.slice(), lines: breaks };
}

/**
 * The columns a table's first record names (`bytes`, its first chunk of one line), the byte
 * its data starts at and the line of its first row; null for a JSON Lines file's blank line.
 */
function headerOf(bytes, format, name) {
  const text = UTF8.decode(bytes);
  if (format === 'csv') {
    // The decoder has dropped a byte-order mark.
    const header = csvRecords(text, 1)[0]?.fields ?? [];
    if (header.every((h) => h.trim() === '')) throw new TableError(`${name}: the first line should name the columns`);
    return { header: header.map((h) => h.trim()), start: bytes.length, line: 2 };
  }
  if (!text.trim()) return null;
  let first;
  try {
    first = JSON.parse(text);
  } catch (e) {
    throw new TableError(`${name}: the first line is not JSON: ${e.message}`);
  }
  if (!first || typeof first !== 'object' || Array.isArray(first))
    throw new TableError(`${name}: each line should be a JSON object naming the columns`);
  return { header: Object.keys(first), start: 0, line: 1 };
}

/**
 * The header of the table `reads` carry (see `headerOf`), read no further than its first
 * record; null for a table with none.
 */
export async function tableHeader(reads, format, name) {
  for await (const { bytes } of recordChunks(reads, 1, format === 'csv', name)) {
    const head = headerOf(bytes, format, name);
    if (head) return head;
  }
  return null;
}

/**
 * The job `scoreChunk` runs: the input's and output's formats, the input's columns, and how
 * they fill the model's inputs (`planColumns`; `keep` and `features` as there).
 */
/**
 * @param {{ inputs: any[], metadata: Record<string, string> }} model
 * @param {{ input: string, output: string, header: string[], keep?: string[], features?: string[] }} job
 */
export function planJob(model, { input, output, header, keep, features }) {
  return { input, output, header, plan: planColumns(model, header, { keep, features }) };
}

/** The output's first line (CSV's column names), or '' for JSON Lines and for no columns. */
export const outputHeader = (job, columns) =>
  job.output === 'csv' && columns ? `${columns.map(quote).join(',')}\n` : '';
