// The v2 binary tensor framing fuzzed through the server's own handler (driven in Node with
// Request objects, as server-settings.test.mjs drives it). fast-check builds well-framed
// requests of every datatype the models take and then breaks them: the header's length, its
// JSON, shapes, datatypes, binary_data_size, the tail's bytes. Every answer must be 200 or a
// 4xx with a coded error, never a 5xx, and the models must answer a well-formed request the
// same way after each. The Rust parsers are fuzzed with libFuzzer (fuzz/, scripts/fuzz.sh);
// docs/decisions/fuzzing.md says why this one is property-based. FUZZ_RUNS and FUZZ_SEED
// make a longer or another run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { corpusDir, importPackage, packageDir } from './harness.mjs';

const KEY = 'pk-predict-0123456789abcdef';
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);

/** Each model's inputs as a well-formed request gives them: v2 datatype, row width, values. */
const MODELS = {
  mixed_types: [
    { name: 'amount', datatype: 'FP32', width: 4, array: Float32Array },
    { name: 'count', datatype: 'INT64', width: 4, array: BigInt64Array },
    { name: 'flag', datatype: 'BOOL', width: 4, array: Uint8Array },
  ],
  sk_onehot_fraud: [
    { name: 'country', datatype: 'BYTES', width: 1, strings: ['FR', 'US', 'DE'] },
    { name: 'channel', datatype: 'BYTES', width: 1, strings: ['web', 'app'] },
    { name: 'amount', datatype: 'FP32', width: 1, array: Float32Array },
  ],
};
const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64'];
DATATYPES.push('FP16', 'FP32', 'FP64', 'BYTES', 'BF16', 'fp32', '');

/** A tensor's bytes in the binary layout: raw little-endian values, or length-prefixed UTF-8. */
function tensorBytes(input, rows, seed) {
  const n = rows * input.width;
  if (input.strings) {
    const parts = Array.from({ length: n }, (_, i) => Buffer.from(input.strings[(seed + i) % input.strings.length]));
    return Buffer.concat(parts.flatMap((p) => [Buffer.from(new Uint32Array([p.length]).buffer), p]));
  }
  const values = new input.array(n);
  for (let i = 0; i < n; i++) {
    const v = (seed + i) % 7;
    values[i] = input.array === BigInt64Array ? BigInt(v) : input.array === Uint8Array ? v & 1 : v / 3;
  }
  return Buffer.from(values.buffer);
}

/** A well-formed request: its JSON header (as an object) and each input's bytes. */
function wellFormed(model, rows, seed) {
  const tensors = MODELS[model].map((input) => tensorBytes(input, rows, seed));
  const header = {
    inputs: MODELS[model].map((input, i) => ({
      name: input.name,
      shape: [rows, input.width],
      datatype: input.datatype,
      parameters: { binary_data_size: tensors[i].length },
    })),
  };
  return { header, tensors };
}

async function server() {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const load = (name) => (options) => Model.load(readFileSync(join(corpusDir(), `${name}.onnx`)), options);
  const h = createHandler({ models: Object.keys(MODELS).map((name) => ({ name, load: load(name) })) });
  const env = { API_KEYS: JSON.stringify([{ name: 'web', key: KEY, scopes: ['predict'] }]) };
  return async (model, body, headerLength) => {
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/octet-stream' };
    if (headerLength !== undefined) headers['inference-header-content-length'] = headerLength;
    const request = new Request(`http://worker.test/v2/models/${model}/infer`, { method: 'POST', headers, body });
    const r = await h.fetch(request, env, { waitUntil: () => {} });
    const text = await r.text();
    return { status: r.status, text, json: JSON.parse(text) };
  };
}

const frame = (header, tensors) => {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  return { json, body: Buffer.concat([json, ...tensors]) };
};

/** Ways to break a well-formed request; a case applies none to three of them. */
const breaks = fc.oneof(
  fc.record({
    shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 5 }), fc.constant(2 ** 40), fc.string()), { maxLength: 4 }),
  }),
  fc.record({ datatype: fc.constantFrom(...DATATYPES) }),
  fc.record({ size: fc.oneof(fc.integer({ min: -8, max: 300 }), fc.double(), fc.string(), fc.constant(2 ** 53)) }),
  fc.record({ drop: fc.constantFrom('name', 'shape', 'datatype', 'parameters') }),
  fc.record({ extraInput: fc.constant(true) }),
  fc.record({
    lengthDelta: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.constantFrom('abc', '-1', '1e3', ' 7', '')),
  }),
  fc.record({ flip: fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ tail: fc.oneof(fc.integer({ min: -20, max: -1 }), fc.uint8Array({ minLength: 1, maxLength: 40 })) }),
);
const breakage = fc.record({
  model: fc.constantFrom(...Object.keys(MODELS)),
  rows: fc.integer({ min: 1, max: 3 }),
  seed: fc.nat(100),
  breaks: fc.array(fc.record({ input: fc.nat(2), change: breaks }), { maxLength: 3 }),
});

function broken({ model, rows, seed, breaks }) {
  const { header, tensors } = wellFormed(model, rows, seed);
  // The header's fields first, then the bytes of the framed body.
  for (const { input, change: c } of breaks) {
    const target = header.inputs[input % header.inputs.length];
    if ('shape' in c) target.shape = c.shape;
    if ('datatype' in c) target.datatype = c.datatype;
    if ('size' in c) target.parameters = { binary_data_size: c.size };
    if ('drop' in c) delete target[c.drop];
    if ('extraInput' in c) header.inputs.push({ ...target, name: 'extra' });
  }
  let { json, body } = frame(header, tensors);
  let length = String(json.length);
  for (const { change: c } of breaks) {
    if ('lengthDelta' in c) {
      length = typeof c.lengthDelta === 'number' ? String(json.length + c.lengthDelta) : c.lengthDelta;
    }
    if ('flip' in c) body[c.flip[0] % json.length] = c.flip[1];
    if (c.tail instanceof Uint8Array) body = Buffer.concat([body, c.tail]);
    else if ('tail' in c) body = body.subarray(0, Math.max(json.length, body.length + c.tail));
  }
  return { body, length };
}

test('broken binary framing is refused with a 4xx that says what was wrong, and the models keep answering', async () => {
  const call = await server();
  const reference = {};
  for (const model of Object.keys(MODELS)) {
    const { header, tensors } = wellFormed(model, 2, 0);
    const { json, body } = frame(header, tensors);
    const r = await call(model, body, String(json.length));
    assert.equal(r.status, 200, `${model}: ${r.text}`);
    reference[model] = r.json.outputs;
  }
  const statuses = new Map();
  await fc.assert(
    fc.asyncProperty(breakage, async (b) => {
      const { body, length } = broken(b);
      const r = await call(b.model, body, length);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status !== 200) {
        assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}: ${r.text}`);
        assert.match(r.json.error, /\S/, 'the error says what was wrong');
      }
      const { header, tensors } = wellFormed(b.model, 2, 0);
      const again = frame(header, tensors);
      const answer = await call(b.model, again.body, String(again.json.length));
      assert.deepEqual(answer.json.outputs, reference[b.model], answer.text);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  if (process.env.FUZZ_RUNS) console.log(Object.fromEntries(statuses));
  // The breakage must reach both outcomes, or the property says little.
  assert.ok(statuses.get(200) > 0, `some broken requests still parse: ${[...statuses]}`);
  assert.ok(statuses.get(400) > RUNS / 4, `most are refused: ${[...statuses]}`);
});
