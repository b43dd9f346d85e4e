// The element types, once for all of the JS layer: each dtype's name, the typed array its
// data comes in, and its Open Inference Protocol (v2) datatype. The order is the core's
// `DType::ALL` (src/dtype.rs), whose index is a dtype's code across the boundary;
// tests/js/contracts.test.mjs checks the two against each other.

/** [name, typed array (null: a plain array), v2 datatype (null: none)], in `DType::ALL`'s order. */
const TABLE = [
  ['float32', Float32Array, 'FP32'],
  ['float64', Float64Array, 'FP64'],
  // IEEE half floats as bit patterns.
  ['float16', Uint16Array, 'FP16'],
  ['int8', Int8Array, 'INT8'],
  ['int16', Int16Array, 'INT16'],
  ['int32', Int32Array, 'INT32'],
  ['int64', BigInt64Array, 'INT64'],
  ['uint8', Uint8Array, 'UINT8'],
  ['uint16', Uint16Array, 'UINT16'],
  ['uint32', Uint32Array, 'UINT32'],
  ['uint64', BigUint64Array, 'UINT64'],
  // 0 or 1 per element.
  ['bool', Uint8Array, 'BOOL'],
  ['string', null, 'BYTES'],
  // A ZipMap's rows, one object each: never an input, and no v2 type of its own.
  ['map', null, null],
];

/** Every dtype: `{ name, code, array, v2 }`. */
export const DTYPES = TABLE.map(([name, array, v2], code) => ({ name, code, array, v2 }));

/** A dtype by name. */
export const DTYPE = Object.fromEntries(DTYPES.map((d) => [d.name, d]));
