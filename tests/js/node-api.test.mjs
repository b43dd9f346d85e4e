// The public API in Node, beyond the shared suite: outputs as JSON (int64 beyond 2^53) and
// the forms of the `wasm` option Node takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importPackage, packageDir, root } from './harness.mjs';

const { Model, init, predictionId } = await importPackage();

test('outputs stringify to JSON: plain arrays, int64 as numbers (not bigints), no prediction id', async () => {
  const iris = await Model.load(readFileSync(join(root, 'examples/iris.onnx')));
  const out = await iris.predict({
    features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]), shape: [2, 4] },
  });
  assert.ok(predictionId(out));
  const json = JSON.parse(JSON.stringify(out));
  assert.deepEqual(Object.keys(json), ['probabilities', 'label']);
  assert.deepEqual(json.label, { data: [0, 2], shape: [2], dtype: 'int64' });
  assert.deepEqual(json.probabilities.shape, [2, 3]);
  assert.deepEqual(json.probabilities.data, Array.from(out.probabilities.data));
  // toJSON is not enumerable: the tensor's own keys are its fields.
  assert.deepEqual(Object.keys(out.label), ['data', 'shape', 'dtype']);
  assert.equal(JSON.stringify(out.label), '{"data":[0,2],"shape":[2],"dtype":"int64"}');
});

test('int64 outputs beyond the safe integers are decimal strings in JSON, the rest numbers', async () => {
  // ArrayFeatureExtractor hands int64 values through as they are.
  const m = await Model.load(readFileSync(join(root, 'tests/fixtures/ml/array_feature_extractor_int64_wine.onnx')));
  const safe = BigInt(Number.MAX_SAFE_INTEGER);
  const values = [2n ** 60n, -(safe + 1n), safe, -safe, 7n];
  const row = [...values, ...Array(13 - values.length).fill(0n)];
  const out = await m.predict({
    X: { data: BigInt64Array.from(row), shape: [1, 13] },
    I: { data: [0n, 1n, 2n, 3n, 4n], shape: [5] },
  });
  assert.deepEqual(Array.from(out.Y.data), values);
  assert.equal(
    JSON.stringify(out),
    '{"Y":{"data":["1152921504606846976","-9007199254740992",9007199254740991,-9007199254740991,7],"shape":[1,5],"dtype":"int64"}}',
  );
});

test('the wasm option in Node: a module, bytes, a path or a file: URL; a Response or web URL is E_INVALID_OPTION', async () => {
  await Model.load(readFileSync(join(root, 'examples/iris.onnx')));
  for (const wasm of [
    new Response(new Uint8Array(8)),
    'https://example.com/edgeinfer_bg.wasm',
    new URL('http://x/y'),
  ]) {
    await assert.rejects(init({ wasm }), {
      code: 'E_INVALID_OPTION',
      message:
        /the wasm option takes a WebAssembly\.Module, bytes, a file path or a file: URL in Node, got (a Response|'https:|the URL http:)/,
    });
  }
  // A fresh API instance (the module behind the entry point, imported anew) starts from a
  // file: URL given as a string, and names a missing file.
  const wasmPath = join(packageDir, 'dist/edgeinfer_bg.wasm');
  const fresh = async () => (await import(`${pathToFileURL(join(packageDir, 'js/node-api.js'))}?${Math.random()}`)).api;
  await assert.rejects((await fresh()).init({ wasm: `${pathToFileURL(wasmPath)}.missing` }), {
    code: 'E_WASM_LOAD',
    message: /edgeinfer_bg\.wasm\.missing/,
  });
  await (await fresh()).init({ wasm: pathToFileURL(wasmPath).href });
  await (await fresh()).init({ wasm: wasmPath });
});
