// Running out of memory in Node: a prediction that fills the instance's 4 GiB is refused with
// E_RESOURCE_LIMIT, and the instance (this model and every other) keeps serving. Before, an
// allocation that failed in the core's own code trapped, and the glue then refused every
// later call ("Module terminated"). Each run is a fresh Node, as it leaves 4 GiB behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageDir, root } from './harness.mjs';

const entry = pathToFileURL(join(packageDir, 'js/node.js')).href;
// An outer product of two [n] vectors and two functions of it, all three outputs: at n =
// 16,000 each output is 0.95 GiB, under the default 1 GiB tensor limit, and together with the
// copies handed to JS they are more than 4 GiB.
const model = join(root, 'tests/fixtures/layers/outer_products.onnx');

function fill(flags, init) {
  const program = `import * as api from '${entry}';
    const started = await api.init(${init});
    const feeds = (n) => ({ a: { data: new Float32Array(n).fill(0.5), shape: [n, 1] }, b: { data: new Float32Array(n).fill(2), shape: [1, n] } });
    const m = await api.Model.load(${JSON.stringify(model)});
    const small = async () => Array.from((await m.predict(feeds(2))).q.data);
    const before = await small();
    let refused;
    try {
      await m.predict(feeds(16000));
    } catch (e) {
      refused = { code: e.code, message: e.message };
    }
    const other = await api.Model.load(${JSON.stringify(join(root, 'examples/iris.onnx'))});
    const iris = await other.predict({ features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4] } });
    console.log(JSON.stringify({ started, before, refused, after: await small(), label: Number(iris.label.data[0]) }));`;
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', program], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(out);
}

for (const [build, flags, init] of [
  ['the unthreaded build', [], '{ threads: 1 }'],
  ['the threads build, on two threads', ['--experimental-wasm-relaxed-simd'], '{ threads: 2 }'],
]) {
  test(`out of memory is E_RESOURCE_LIMIT, and the instance keeps serving: ${build}`, () => {
    const run = fill(flags, init);
    assert.equal(run.started.threads, init.includes('2') ? 2 : 1);
    assert.equal(run.refused?.code, 'E_RESOURCE_LIMIT', JSON.stringify(run.refused));
    assert.match(run.refused.message, /^resource limit exceeded: out of memory: .*predict smaller batches/);
    // sigmoid(0.5 * 2) = 0.731..., before and after, and another model still loads and runs.
    assert.equal(run.before.length, 4);
    assert.ok(Math.abs(run.before[0] - 1 / (1 + Math.exp(-1))) < 1e-6);
    assert.deepEqual(run.after, run.before);
    assert.equal(run.label, 0);
  });
}
