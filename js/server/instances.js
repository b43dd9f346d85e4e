// The plain JSON route, for callers who think in records rather than tensors:
//   { "instances": [{ "age": 41, "income": 5200 }, ...] }  or  { "instances": [[41, 5200], ...] }
//   { "inputs": { "x": [[41, 5200], ...] } }
// Instances map onto the model's inputs in one of two ways: one input [batch, F] whose F
// features have names (the model's `feature_names` metadata, comma-separated, or the
// deployment's `features`), or several inputs each one value per row ([batch] or [batch, 1]),
// named by the input names.
import { HttpError } from './http.js';
import { flatten, nest, rows, shapeOf } from '../nested.js';
import { jsonValues } from './v2.js';

export function parsePredictRequest(body, layout, limits) {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  if (body.instances !== undefined) return { kind: 'instances', feeds: fromInstances(body.instances, layout, limits) };
  if (body.inputs !== undefined) return { kind: 'inputs', feeds: fromColumns(body.inputs, limits) };
  throw new HttpError(
    400,
    "the body needs 'instances' (an array of records or rows) or 'inputs' (a map of input names to arrays)",
  );
}

function checkRows(n, limits) {
  if (n > limits.maxBatchRows) throw new HttpError(413, `${n} rows is over the limit of ${limits.maxBatchRows}`);
}

function fromInstances(instances, layout, limits) {
  if (!Array.isArray(instances) || instances.length === 0)
    throw new HttpError(400, "'instances' must be a non-empty array");
  checkRows(instances.length, limits);
  if (layout.kind === 'none') {
    throw new HttpError(
      422,
      'this model\'s inputs cannot be filled from instances; send { "inputs": { name: nested arrays } }',
    );
  }
  if (layout.kind === 'matrix') {
    const { input, names } = layout;
    const width = layout.width ?? names?.length ?? (Array.isArray(instances[0]) ? instances[0].length : null);
    if (width === null)
      throw new HttpError(
        422,
        `the model does not name its features: send each instance as an array of ${input.name}'s values`,
      );
    if (width * instances.length > limits.maxTensorElements)
      throw new HttpError(413, `${width * instances.length} values is over the limit of ${limits.maxTensorElements}`);
    const data = new Array(width * instances.length);
    instances.forEach((inst, row) => {
      if (Array.isArray(inst)) {
        if (inst.length !== width)
          throw new HttpError(422, `instances[${row}] has ${inst.length} values, expected ${width}`);
        for (let j = 0; j < width; j++) data[row * width + j] = inst[j];
      } else if (inst && typeof inst === 'object') {
        if (!names)
          throw new HttpError(
            422,
            `the model does not name its features: send instances[${row}] as an array of ${width} values`,
          );
        for (const key of Object.keys(inst)) {
          if (!names.includes(key))
            throw new HttpError(
              422,
              `instances[${row}] has unknown feature '${key}'; the features are ${names.join(', ')}`,
            );
        }
        names.forEach((n, j) => {
          if (!Object.hasOwn(inst, n)) throw new HttpError(422, `instances[${row}] lacks feature '${n}'`);
          data[row * width + j] = inst[n];
        });
      } else {
        throw new HttpError(400, `instances[${row}] must be an object or an array`);
      }
    });
    return Object.assign(Object.create(null), { [input.name]: { data, shape: [instances.length, width] } });
  }
  const feeds = Object.create(null);
  for (const input of layout.inputs) {
    const data = instances.map((inst, row) => {
      if (!inst || typeof inst !== 'object' || Array.isArray(inst))
        throw new HttpError(400, `instances[${row}] must be an object naming the inputs`);
      if (!Object.hasOwn(inst, input.name)) throw new HttpError(422, `instances[${row}] lacks input '${input.name}'`);
      return inst[input.name];
    });
    feeds[input.name] = { data, shape: input.shape.length === 1 ? [data.length] : [data.length, 1] };
  }
  instances.forEach((inst, row) => {
    for (const key of Object.keys(inst)) {
      if (!layout.inputs.some((i) => i.name === key))
        throw new HttpError(
          422,
          `instances[${row}] has unknown input '${key}'; the inputs are ${layout.inputs.map((i) => i.name).join(', ')}`,
        );
    }
  });
  return feeds;
}

function fromColumns(inputs, limits) {
  if (!inputs || typeof inputs !== 'object' || Array.isArray(inputs))
    throw new HttpError(400, "'inputs' must map input names to nested arrays");
  const feeds = Object.create(null);
  for (const [name, value] of Object.entries(inputs)) {
    const shape = Array.isArray(value) ? shapeOf(value) : null;
    if (!shape) throw new HttpError(400, `input '${name}' must be rectangular nested arrays`);
    if (shape.length) checkRows(shape[0], limits);
    const data = flatten(value);
    if (data.length > limits.maxTensorElements)
      throw new HttpError(
        413,
        `input '${name}' has ${data.length} values, over the limit of ${limits.maxTensorElements}`,
      );
    feeds[name] = { data, shape };
  }
  return feeds;
}

export function predictResponse(kind, outputs) {
  if (kind === 'inputs') {
    return {
      outputs: Object.fromEntries(
        Object.entries(outputs).map(([k, t]) => [k, t.dtype === 'map' ? t.data : nest(jsonValues(t), t.shape)]),
      ),
    };
  }
  const names = Object.keys(outputs);
  const perOutput = names.map((k) => {
    const t = outputs[k];
    if (t.dtype === 'map') return t.data;
    // [N] and [N, 1] give one value per row; wider outputs give arrays.
    const shape = t.shape.length === 2 && t.shape[1] === 1 ? [t.shape[0]] : t.shape;
    return rows(jsonValues(t), shape);
  });
  const n = perOutput[0]?.length ?? 0;
  return {
    predictions: Array.from({ length: n }, (_, i) => Object.fromEntries(names.map((k, j) => [k, perOutput[j][i]]))),
  };
}
