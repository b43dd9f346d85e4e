// The threads build in Node (js/thread.js, src/threads.rs): which build and how many threads
// start, that models answer the same bits on any number of threads, the option's errors,
// that an idle pool never keeps a process alive, and the shared suite on two threads. It
// needs relaxed SIMD, which Node 20 has behind a flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importPackage, packageDir, root, runSuite } from './harness.mjs';

const RELAXED_ON = '--experimental-wasm-relaxed-simd';
const RELAXED_OFF = '--no-experimental-wasm-relaxed-simd';
const entry = pathToFileURL(join(packageDir, 'js/node.js')).href;
// A 3x3 convolution large enough to be split across threads (crates/kernels/src/conv.rs).
const fixture = JSON.parse(readFileSync(join(root, 'tests/fixtures/layers/conv_3x3.0.json'), 'utf8'));
const modelPath = join(root, 'tests/fixtures/layers', fixture.model);

/**
 * Runs `script` (an ES module that may `await`, with `api`, `model` (the conv's path) and
 * `feeds` in scope) in a new Node with `flags`; its JSON output. The process must exit by
 * itself, whatever threads it started, within the time limit.
 */
function inNode(flags, script) {
  const x = fixture.inputs.x;
  const program = `import * as api from '${entry}';
    const model = ${JSON.stringify(modelPath)};
    const bytes = Buffer.from(${JSON.stringify(x.b64)}, 'base64');
    const feeds = { x: { data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), shape: ${JSON.stringify(x.shape)} } };
    ${script}`;
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', program], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out);
}

const expected = (() => {
  const y = fixture.outputs.y;
  const bytes = Buffer.from(y.b64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
})();

test('two threads start where the engine has relaxed SIMD, and answer the same bits as one', () => {
  const run = inNode(
    [RELAXED_ON],
    `const started = await api.init({ threads: 2 });
     const two = await api.Model.load(model);
     const one = await api.Model.load(model, { threads: 1 });
     const many = await api.Model.load(model, { threads: 8 });
     const answers = [];
     for (const m of [two, one, many, two]) answers.push(Array.from((await m.predict(feeds)).y.data));
     one.dispose();
     answers.push(Array.from((await two.predict(feeds)).y.data));
     console.log(JSON.stringify({ started, threads: [two.threads, one.threads, many.threads], answers }));`,
  );
  assert.deepEqual(run.started, { simd: 'relaxed-simd', threads: 2 });
  assert.deepEqual(run.threads, [2, 1, 2], 'a model has at most the threads the instance started');
  const [first, ...others] = run.answers;
  others.forEach((a, i) => assert.deepEqual(a, first, `answer ${i + 1}`));
  first.forEach((v, i) =>
    assert.ok(
      Math.abs(v - expected[i]) <= fixture.atol + fixture.rtol * Math.abs(expected[i]),
      `y[${i}] ${v} ${expected[i]}`,
    ),
  );
});

test('without relaxed SIMD, or with the simd128 build asked for, threads fall back to one', () => {
  const script = (options) => `
    const started = await api.init(${options});
    const m = await api.Model.load(model, { threads: 2 });
    const y = (await m.predict(feeds)).y.data;
    console.log(JSON.stringify({ started, threads: m.threads, length: y.length }));`;
  const lacking = inNode([RELAXED_OFF], script('{ threads: 2 }'));
  assert.deepEqual(lacking, { started: { simd: 'simd128', threads: 1 }, threads: 1, length: expected.length });
  const simd128 = inNode([RELAXED_ON], script("{ threads: 4, simd: 'simd128' }"));
  assert.deepEqual(simd128, { started: { simd: 'simd128', threads: 1 }, threads: 1, length: expected.length });
  const single = inNode([RELAXED_ON], script('{ threads: 1 }'));
  assert.deepEqual(single.started, { simd: 'relaxed-simd', threads: 1 }, 'one thread runs the unthreaded build');
});

test('the threads option refuses what is not a number of threads, and the module stays usable', async () => {
  const { init, Model } = await importPackage();
  for (const [threads, given] of [
    [0, '0'],
    [2.5, '2.5'],
    [-1, '-1'],
    [65, '65'],
    ['many', "'many'"],
    [null, 'null'],
  ]) {
    const message = `the threads option is 'auto' or a whole number from 1 to 64, got ${given}`;
    await assert.rejects(init({ threads }), { code: 'E_INVALID_OPTION', message });
    await assert.rejects(Model.load(modelPath, { threads }), { code: 'E_INVALID_OPTION', message });
  }
  const m = await Model.load(modelPath, { threads: 'auto' });
  assert.ok(m.threads >= 1);
  assert.equal((await init()).threads >= m.threads, true);
});

test('the shared suite passes on two threads', () => {
  const run = runSuite([RELAXED_ON], { EDGEINFER_THREADS: '2' });
  assert.match(run, /ok \d+ - the suite runs on relaxed-simd, 2 thread\(s\)/);
});
