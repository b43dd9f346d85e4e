// Nested JSON arrays as flat values and shapes.

/**
 * Flattens nested arrays (row-major); a flat array is returned as is. With `axes`, arrays
 * nested deeper than that many levels give null instead.
 */
export function flatten(data, axes = Infinity) {
  if (!data.some(Array.isArray)) return data;
  const flat = data.flat(Math.max(axes - 1, 0));
  return axes !== Infinity && flat.some(Array.isArray) ? null : flat;
}

/** The shape of rectangular nested arrays, or null if they are ragged. */
export function shapeOf(value) {
  const shape = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const count = shape.reduce((a, b) => a * b, 1);
  const flat = shape.length ? value.flat(shape.length - 1) : [value];
  if (flat.length !== count || flat.some(Array.isArray)) return null;
  return shape;
}

/** Splits a tensor's values into per-row JSON values along the first axis. */
export function rows(values, shape) {
  const n = shape[0] ?? 1;
  const per = n ? values.length / n : 0;
  const inner = shape.slice(1);
  return Array.from({ length: n }, (_, i) => nest(values.slice(i * per, (i + 1) * per), inner));
}

export function nest(flat, shape) {
  if (shape.length === 0) return flat[0];
  if (shape.length === 1) return Array.from(flat);
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}
