// Every typed array predict stages as bytes (js/core.js `stage`) reaches the core as the
// values it holds: an Identity per dtype gives them back, the same as the core's general
// reading of the same feeds (a shape given as an Int32Array takes that path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPackage, writeIdentityModel } from './harness.mjs';

const { Model } = await importPackage();

const VALUES = {
  float32: Float32Array.of(-1.5, 0, 3.25, NaN, -Infinity),
  float64: Float64Array.of(-1e300, 0, 2 ** -1074, NaN, Infinity),
  int8: Int8Array.of(-128, -1, 0, 1, 127),
  int16: Int16Array.of(-32768, -1, 0, 1, 32767),
  int32: Int32Array.of(-(2 ** 31), -1, 0, 1, 2 ** 31 - 1),
  int64: BigInt64Array.of(-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n),
  uint8: Uint8Array.of(0, 1, 128, 254, 255),
  uint16: Uint16Array.of(0, 1, 32768, 65534, 65535),
  uint32: Uint32Array.of(0, 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1),
  uint64: BigUint64Array.of(0n, 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n),
};

test('each typed array goes in and comes back as it was, by both readings', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-typed-'));
  try {
    writeIdentityModel(join(dir, 'dtypes.onnx'), Object.keys(VALUES));
    const m = await Model.load(new Uint8Array(readFileSync(join(dir, 'dtypes.onnx'))));
    const feeds = (shape, declared) =>
      Object.fromEntries(
        Object.entries(VALUES).map(([dtype, data]) => [
          `in_${dtype}`,
          declared ? { data, shape, dtype } : { data, shape },
        ]),
      );
    for (const [label, f] of [
      ['fast', feeds([5], false)],
      ['fast, dtype given', feeds([5], true)],
      ['general', feeds(Int32Array.of(5), false)],
    ]) {
      const out = await m.predict(f);
      for (const [dtype, data] of Object.entries(VALUES)) {
        const o = out[`out_${dtype}`];
        assert.equal(o.dtype, dtype, `${label} ${dtype}`);
        assert.equal(o.data.constructor, data.constructor, `${label} ${dtype} array type`);
        assert.deepEqual(Array.from(o.data), Array.from(data), `${label} ${dtype} values`);
        assert.deepEqual(o.shape, [5]);
      }
    }
    // A view at an odd offset of a shared buffer: only its elements, however aligned.
    const buffer = new ArrayBuffer(64);
    const odd = new Int16Array(buffer, 6, 5);
    odd.set([1, -2, 3, -4, 5]);
    new Uint8Array(buffer).fill(0xff, 0, 6);
    const f = feeds([5], false);
    const out = await m.predict({ ...f, in_int16: { data: odd, shape: [5] } });
    assert.deepEqual(Array.from(out.out_int16.data), [1, -2, 3, -4, 5]);
    // Each typed array given to the wrong input is refused, naming the input.
    const other = {
      int8: 'uint8',
      uint8: 'int8',
      int16: 'uint16',
      uint16: 'int16',
      int32: 'uint32',
      uint32: 'int32',
      int64: 'uint64',
      uint64: 'int64',
      float32: 'float64',
      float64: 'float32',
    };
    for (const [dtype, wrong] of Object.entries(other)) {
      await assert.rejects(
        m.predict({ ...f, [`in_${dtype}`]: { data: VALUES[wrong], shape: [5] } }),
        (e) => e.code === 'E_INPUT_DTYPE' && e.message.includes(`in_${dtype}`),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
