// The Open Inference Protocol (KServe v2) over JSON: request bodies to model feeds, model
// outputs to response bodies. https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol
import { HttpError, shown } from './http.js';
import { readTensor, encodeTensor } from './binary.js';
import { flatten } from '../nested.js';
import { DTYPES } from '../dtypes.js';

/** v2 datatypes and the package's dtypes. */
export const DATATYPES = Object.fromEntries(DTYPES.filter((d) => d.v2).map((d) => [d.v2, d.name]));
const V2_OF = Object.fromEntries(Object.entries(DATATYPES).map(([k, v]) => [v, k]));
/** ZipMap outputs (one map per row) have no v2 type: each row goes out as JSON text in BYTES. */
V2_OF.map = 'BYTES';

const tensorMetadata = (info) => ({
  name: info.name,
  datatype: V2_OF[info.dtype],
  shape: info.shape.map((d) => (typeof d === 'number' ? d : -1)),
});

/** A model's v2 metadata; `versions` are all those a request may name. */
export function modelMetadata(entry, model, versions) {
  return {
    name: entry.name,
    versions,
    platform: 'edgeinfer_onnx',
    inputs: model.inputs.map(tensorMetadata),
    outputs: model.outputs.map(tensorMetadata),
  };
}

const duration = (count = 0, ns = 0) => ({ count, ns });

/**
 * One model's statistics as Triton's statistics extension gives them
 * (https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_statistics.md),
 * from its monitoring's `stats()` (`null` before it has loaded: no inference yet). A call is
 * one execution of its batch of rows, timed whole by the core (converting the inputs, checking,
 * running): that time is `compute_infer`. edgeinfer has no queue, no response cache, no input or
 * output stage timed apart, and does not time failed calls: those durations are zero.
 */
export function modelStatistics(entry, stats) {
  const calls = stats?.predictions ?? 0;
  const ns = stats ? Math.round((stats.latencyMs.mean ?? 0) * stats.latencyMs.count * 1e6) : 0;
  return {
    name: entry.name,
    version: entry.version,
    last_inference: entry.lastInference ?? 0,
    inference_count: stats?.rows ?? 0,
    execution_count: calls,
    inference_stats: {
      success: duration(calls, ns),
      fail: duration(stats?.errors.total ?? 0),
      queue: duration(),
      compute_input: duration(),
      compute_infer: duration(calls, ns),
      compute_output: duration(),
      cache_hit: duration(),
      cache_miss: duration(),
    },
    batch_stats: [],
  };
}

/**
 * Checks an infer request's structure and turns it into feeds; the model checks the rest.
 * `tail` holds the binary tensor data that follows the JSON header, if any.
 */
export function parseInferRequest(body, model, limits, tail = new Uint8Array(0)) {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw new HttpError(400, "'id' must be a string");
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) {
    throw new HttpError(400, "'inputs' must be a non-empty array of { name, shape, datatype, data }");
  }
  // No prototype: inputs named __proto__ or constructor are inputs like any other.
  const feeds = Object.create(null);
  let offset = 0;
  for (const [i, input] of body.inputs.entries()) {
    const where = `inputs[${i}]`;
    if (!input || typeof input !== 'object') throw new HttpError(400, `${where} must be an object`);
    const { name, shape, datatype, data } = input;
    if (typeof name !== 'string') throw new HttpError(400, `${where}.name must be a string`);
    if (Object.hasOwn(feeds, name)) throw new HttpError(400, `input '${name}' is given twice`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new HttpError(400, `input '${name}': shape must be an array of non-negative integers`);
    }
    const dtype = typeof datatype === 'string' && Object.hasOwn(DATATYPES, datatype) ? DATATYPES[datatype] : undefined;
    if (!dtype)
      throw new HttpError(
        400,
        `input '${name}': datatype ${shown(datatype)} is not one of ${Object.keys(DATATYPES).join(', ')}`,
      );
    const count = shape.reduce((a, b) => a * b, 1);
    const binarySize = input.parameters?.binary_data_size;
    if (binarySize !== undefined && !Number.isSafeInteger(binarySize)) {
      throw new HttpError(400, `input '${name}': binary_data_size is ${shown(binarySize)}, expected a number of bytes`);
    }
    if (binarySize === undefined && !Array.isArray(data))
      throw new HttpError(400, `input '${name}': data must be an array (flat or nested, row-major)`);
    if (count > limits.maxTensorElements) {
      throw new HttpError(413, `input '${name}' has ${count} elements, over the limit of ${limits.maxTensorElements}`);
    }
    if (shape.length > 0 && shape[0] > limits.maxBatchRows) {
      throw new HttpError(413, `input '${name}' has ${shape[0]} rows, over the limit of ${limits.maxBatchRows}`);
    }
    let values;
    if (binarySize !== undefined) {
      values = readTensor(name, datatype, count, tail, offset, binarySize);
      offset += binarySize;
    } else {
      values = flatten(data, shape.length);
      if (!values) throw new HttpError(400, `input '${name}': data nests deeper than its ${shape.length} axes`);
    }
    if (values.length !== count) {
      throw new HttpError(400, `input '${name}': shape [${shape}] needs ${count} values, got ${values.length}`);
    }
    feeds[name] = { data: values, shape, dtype };
  }
  if (offset !== tail.length)
    throw new HttpError(400, `the body has ${tail.length - offset} bytes of binary data that no input claims`);
  let selected = null;
  const binary = new Set();
  const allBinary = body.parameters?.binary_data_output === true;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new HttpError(400, "'outputs' must be an array of { name }");
    const known = model.outputs.map((o) => o.name);
    selected = body.outputs.map((o, i) => {
      if (!o || typeof o.name !== 'string') throw new HttpError(400, `outputs[${i}].name must be a string`);
      if (!known.includes(o.name))
        throw new HttpError(400, `unknown output '${o.name}': the model's outputs are ${known.join(', ')}`);
      if (o.parameters?.binary_data === true || (allBinary && o.parameters?.binary_data !== false)) binary.add(o.name);
      return o.name;
    });
  } else if (allBinary) {
    for (const o of model.outputs) binary.add(o.name);
  }
  return { id: body.id, feeds, selected, binary };
}

/** The response: `{ json }`, or `{ json, chunks }` when some outputs go out as binary data. */
/**
 * `predictionId` (from the model's monitoring) goes out as `parameters.prediction_id`, and as
 * `id` when the request gave none, for the client to send back with its feedback.
 */
export function inferResponse(entry, id, outputs, selected, binary = new Set(), predictionId = undefined) {
  const names = selected ?? Object.keys(outputs);
  const chunks = [];
  const responseId = id ?? predictionId;
  const json = {
    model_name: entry.name,
    model_version: entry.version,
    ...(responseId !== undefined ? { id: responseId } : {}),
    ...(predictionId !== undefined ? { parameters: { prediction_id: predictionId } } : {}),
    outputs: names.map((name) => {
      const t = outputs[name];
      const head = { name, datatype: V2_OF[t.dtype], shape: t.dtype === 'map' ? [t.data.length] : t.shape };
      if (!binary.has(name)) return { ...head, data: jsonValues(t) };
      const bytes = encodeTensor(t);
      chunks.push(bytes);
      return { ...head, parameters: { binary_data_size: bytes.length } };
    }),
  };
  return { json, chunks };
}

/** Output data as JSON values: bigints as numbers, half floats decoded, bools as true/false. */
export function jsonValues(t) {
  switch (t.dtype) {
    case 'int64':
    case 'uint64':
      return Array.from(t.data, Number);
    case 'float16':
      return Array.from(t.data, halfToNumber);
    case 'bool':
      return Array.from(t.data, (b) => b !== 0);
    case 'map':
      return t.data.map((row) => JSON.stringify(row));
    case 'string':
      return t.data;
    default:
      return Array.from(t.data, (x) => (Number.isFinite(x) ? x : null));
  }
}

function halfToNumber(h) {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return null;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
