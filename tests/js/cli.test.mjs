// The command line of the installed package, run as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageDir, root } from './harness.mjs';

const run = async (...args) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(packageDir, 'js/cli.js'), ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};
const iris = join(root, 'examples/iris.onnx');

test('predict prints the outputs as JSON', async () => {
  const r = await run('predict', iris, '--input', '{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.label, { dtype: 'int64', shape: [2], data: [0, 2] });
  assert.deepEqual(out.probabilities.shape, [2, 3]);
  for (const row of out.probabilities.data) assert.ok(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-5);
  assert.match(r.stderr, /predicted in [\d.]+ ms/);
});

test('inspect lists inputs and outputs', async () => {
  const r = await run('inspect', iris);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /features: float32 \[batch, 4\]/);
  assert.match(r.stdout, /label: int64 \[batch\]/);
  assert.match(r.stdout, /class_labels: setosa,versicolor,virginica/);
});

test('refusals exit 1 with the code and what was wrong; usage errors exit 2', async () => {
  const missing = await run('predict', join(root, 'examples/nope.onnx'), '--input', '{}');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /E_MODEL_FETCH.*nope\.onnx/);
  const shape = await run('predict', iris, '--input', '{"features": [[1, 2]]}');
  assert.equal(shape.code, 1);
  assert.match(shape.stderr, /E_INPUT_SHAPE: input 'features': dimension 1 is 2, expected 4/);
  const ragged = await run('predict', iris, '--input', '{"features": [[1, 2, 3, 4], [1]]}');
  assert.equal(ragged.code, 2);
  assert.match(ragged.stderr, /not rectangular/);
  const json = await run('predict', iris, '--input', '{nope');
  assert.equal(json.code, 2);
  assert.match(json.stderr, /not JSON/);
  const unknown = await run('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const help = await run('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:/);
});
