// A table's rows as a model's feeds: how named or positional columns fill the model's inputs,
// and the conversion of each value, with the reason when one cannot be. Shared by
// `edgeinfer batch` (js/batch.js), `model.predictBatches` (js/core.js) and the server's
// instances (js/server/instances.js); it runs in every runtime.
import { DTYPE } from './dtypes.js';

export function featureNames(entry, model) {
  if (entry.features) return entry.features;
  const meta = model.metadata.feature_names;
  return meta ? meta.split(',').map((s) => s.trim()) : null;
}

/** How instances fill the model's inputs, decided once per model. */
export function instanceLayout(entry, model) {
  const inputs = model.inputs;
  if (inputs.length === 1 && inputs[0].shape.length === 2) {
    const width = inputs[0].shape[1];
    return {
      kind: 'matrix',
      input: inputs[0],
      width: typeof width === 'number' ? width : null,
      names: featureNames(entry, model),
    };
  }
  const columns = inputs.every((i) => i.shape.length === 1 || (i.shape.length === 2 && i.shape[1] === 1));
  return columns ? { kind: 'columns', inputs } : { kind: 'none' };
}

/**
 * A table the model cannot read, or a batch job refused before it runs or when its input
 * turns out unreadable; `exit` is the command's exit code (2: usage).
 */
export class TableError extends Error {
  /** `code`: the EdgeInferError code the library gives it. */
  constructor(message, exit = 1, code = 'E_INVALID_OPTION') {
    super(message);
    this.exit = exit;
    this.code = code;
  }
}

/**
 * How the input's columns fill the model's inputs, and which are copied to the output:
 * plain data, sent to each worker. The features are the model's feature names where it has
 * them (any other columns are left alone), else every column not kept.
 */
/**
 * @param {{ inputs: any[], metadata: Record<string, string> }} model
 * @param {string[]} header
 * @param {{ keep?: string[], features?: string[] }} [options]
 */
export function planColumns(model, header, { keep = [], features } = {}) {
  const index = (name, what) => {
    const i = header.indexOf(name);
    if (i < 0)
      throw new TableError(
        `the input has no column '${name}' (${what}); its columns are ${header.join(', ')}`,
        1,
        'E_INPUT_MISSING',
      );
    return i;
  };
  const kept = keep.map((k) => index(k, '--keep'));
  const layout = instanceLayout({ features }, model);
  if (layout.kind === 'matrix') {
    const { input, names, width } = layout;
    const columns = names
      ? names.map((n) => index(n, `a feature of ${input.name}`))
      : header.map((_, i) => i).filter((i) => !kept.includes(i));
    if (width !== null && columns.length !== width)
      throw new TableError(
        `${input.name} takes ${width} features and the input has ${columns.length} columns besides those kept (${header.join(', ')}); ` +
          "name the model's features with --features a,b,... or leave out the others with --keep",
        1,
        'E_INPUT_SHAPE',
      );
    return {
      kind: 'matrix',
      inputs: [{ name: input.name, dtype: input.dtype, columns, shape: [columns.length] }],
      kept,
    };
  }
  if (layout.kind === 'columns') {
    const inputs = layout.inputs.map((i) => ({
      name: i.name,
      dtype: i.dtype,
      columns: [index(i.name, 'an input of the model')],
      shape: i.shape.length === 1 ? [] : [1],
    }));
    return { kind: 'columns', inputs, kept };
  }
  throw new TableError(
    "this model's inputs are not a table's columns: batch scores models whose inputs are one [batch, features] matrix or one column each",
  );
}

/** What a converter returns for a value its dtype cannot hold. */
const INVALID = Symbol('invalid');
const NAN_TEXT = /^\s*[+-]?nan\s*$/i;

/**
 * A converter of CSV fields and JSON values to elements of `dtype`, chosen once per input:
 * it returns INVALID rather than throwing, as millions of values go through it.
 */
function converter(dtype) {
  if (dtype === 'string') return (v) => (v === null ? '' : String(v));
  if (dtype === 'bool')
    return (v) =>
      v === true || v === 'true' || v === '1' || v === 1
        ? 1
        : v === false || v === 'false' || v === '0' || v === 0
          ? 0
          : INVALID;
  const number = (v) => {
    if (typeof v === 'number') return v;
    if (typeof v !== 'string') return INVALID;
    const n = +v;
    return n === n || NAN_TEXT.test(v) ? n : INVALID;
  };
  if (dtype.startsWith('float')) return (v) => (v === '' || v === null ? NaN : number(v));
  const big = dtype === 'int64' || dtype === 'uint64';
  return (v) => {
    const n = v === '' || v === null ? INVALID : number(v);
    if (n === INVALID || !Number.isSafeInteger(n)) return INVALID;
    return big ? BigInt(n) : n;
  };
}

/** Why `value` is not an element of `dtype`. */
function why(value, dtype) {
  if (value === undefined) return 'is missing';
  if (value === '' || value === null) return 'is empty';
  const kind =
    dtype === 'bool' ? 'a bool (true, false, 1 or 0)' : dtype.startsWith('float') ? 'a number' : 'an integer';
  return `${JSON.stringify(value)} is not ${kind}`;
}

/**
 * Reads `records` into one feed per input of the job's plan, filled in place (a record that
 * cannot be read is rejected with its reason, and the next overwrites its partial row).
 */
export function readRows(records, job, rejects) {
  const { plan, header, input: format } = job;
  const feeds = plan.inputs.map((input) => {
    const width = input.columns.length;
    // float16 goes as numbers: its typed array holds bit patterns.
    const TypedArray = input.dtype === 'float16' ? null : DTYPE[input.dtype]?.array;
    const size = records.length * width;
    return { input, width, convert: converter(input.dtype), data: TypedArray ? new TypedArray(size) : new Array(size) };
  });
  const rows = [];
  for (const rec of records) {
    if (rec.reason) {
      rejects.push([rec.line, rec.reason]);
      continue;
    }
    // Records read by column name have the header's length by construction.
    if (rec.fields.length !== header.length) {
      const n = rec.fields.length;
      rejects.push([
        rec.line,
        format === 'csv' ? `${n} fields, the header has ${header.length}` : `${n} values, expected ${header.length}`,
      ]);
      continue;
    }
    const at = rows.length;
    let reason = null;
    for (const { input, width, convert, data } of feeds) {
      for (let j = 0; j < width && !reason; j++) {
        const field = rec.fields[input.columns[j]];
        const v = field === undefined ? INVALID : convert(field);
        if (v === INVALID) reason = `column '${header[input.columns[j]]}' ${why(field, input.dtype)}`;
        else data[at * width + j] = v;
      }
    }
    if (reason) rejects.push([rec.line, reason]);
    else rows.push(rec);
  }
  return { rows, feeds };
}

/**
 * Predicts `records` (`{ fields, line }`, or `{ reason, line }` for one that could not be
 * read): those that cannot be read are rejected with their line and why, the rest predicted
 * together. If the model refuses them together, each is tried alone to reject only those at
 * fault, and the others are predicted together. Returns the records predicted, their outputs
 * (null for none) and the rejects (`[line, reason]`, in order).
 */
export async function predictRows(model, job, records) {
  const rejects = [];
  const { rows, feeds } = readRows(records, job, rejects);
  return predictRead(model, feeds, rows, rejects);
}

/**
 * `predictRows` on rows already read: `read` is one `{ input, width, data }` per input,
 * `rows` the records read (in order), `rejects` those that were not.
 */
export async function predictRead(model, read, rows, rejects) {
  /** The feeds of the rows at `indices` (all of them by default). */
  const feeds = (indices = null) =>
    Object.fromEntries(
      read.map(({ input, width, data }) => {
        let picked = data.subarray ? data.subarray(0, rows.length * width) : data.slice(0, rows.length * width);
        if (indices) {
          picked = new data.constructor(indices.length * width);
          indices.forEach((r, i) => {
            for (let j = 0; j < width; j++) picked[i * width + j] = data[r * width + j];
          });
        }
        return [
          input.name,
          { data: picked, shape: [indices?.length ?? rows.length, ...input.shape], dtype: input.dtype },
        ];
      }),
    );
  if (!rows.length) return { rows, outputs: null, rejects };
  try {
    return { rows, outputs: await model.predict(feeds()), rejects };
  } catch (whole) {
    if (!whole?.code) throw whole;
  }
  const good = [];
  for (let r = 0; r < rows.length; r++) {
    try {
      await model.predict(feeds([r]));
      good.push(r);
    } catch (e) {
      if (!e?.code) throw e;
      rejects.push([rows[r].line, `${e.code}: ${e.message}`]);
    }
  }
  rejects.sort((a, b) => a[0] - b[0]);
  const outputs = good.length ? await model.predict(feeds(good)) : null;
  return { rows: good.map((r) => rows[r]), outputs, rejects };
}

/**
 * The plan of a table whose rows are `first`'s kind, and a reader of its rows: objects are
 * keyed by column (the first one's keys are the columns), arrays are positional (the model's
 * feature names, its features' positions, or its inputs' names).
 */
export function recordTable(model, first, options) {
  const layout = instanceLayout(options, model);
  const byPosition = Array.isArray(first);
  let header;
  if (!byPosition) header = first && typeof first === 'object' ? Object.keys(first) : [];
  else if (layout.kind === 'matrix') header = layout.names ?? first.map((_, i) => String(i));
  else header = model.inputs.map((i) => i.name);
  const job = { header, input: 'records', plan: planColumns(model, header, options) };
  const read = (record, line) => {
    if (Array.isArray(record)) return { fields: record, line };
    if (record && typeof record === 'object') return { fields: header.map((h) => record[h]), line };
    return { reason: `${record === null ? 'null' : typeof record} is not a record (an object or an array)`, line };
  };
  return { job, read };
}
