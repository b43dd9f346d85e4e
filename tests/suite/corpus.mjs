// Decodes the acceptance corpus' cases (tests/fixtures/corpus, made by the team's make_corpus.py) in any runtime.

const ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

export function base64Bytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function decodeTensor(t) {
  if (t.dtype === 'string') return { dtype: 'string', shape: t.shape, data: t.strings };
  const bytes = base64Bytes(t.b64);
  const C = ARRAYS[t.dtype];
  return { dtype: t.dtype, shape: t.shape, data: new C(bytes.buffer, 0, bytes.length / C.BYTES_PER_ELEMENT) };
}

const map = (o, f) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

/** `json` is a case file's content, `modelBytes` its model. */
export function decodeCase(json, modelBytes) {
  return {
    name: json.name,
    modelName: json.model.replace(/\.onnx$/, ''),
    model: modelBytes,
    rtol: json.rtol ?? 1e-4,
    atol: json.atol ?? 1e-5,
    inputs: map(json.inputs, decodeTensor),
    outputs: map(json.outputs, decodeTensor),
  };
}

/** Decodes fixtures as the harnesses ship them: `{ cases: [caseJson], models: { file: base64 } }`. */
export function decodeFixtures(packed) {
  const models = map(packed.models, base64Bytes);
  return { models, cases: packed.cases.map((c) => decodeCase(c, models[c.model])) };
}
