// The threads build in Node (js/thread.js, src/threads.rs): which build and how many threads
// start, that models answer the same bits on any number of threads, the option's errors,
// that an idle pool never keeps a process alive, the shared suite on two threads, and
// bundles built with --threads. It needs relaxed SIMD, which Node 20 has behind a flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

test('the threads build given to init as a compiled module starts its team', () => {
  const wasm = join(packageDir, 'dist/edgeinfer_threads_bg.wasm');
  const run = inNode(
    [RELAXED_ON],
    `const { readFileSync } = await import('node:fs');
     const started = await api.init({ wasm: new WebAssembly.Module(readFileSync(${JSON.stringify(wasm)})), threads: 2 });
     const m = await api.Model.load(model);
     const y = Array.from((await m.predict(feeds)).y.data);
     console.log(JSON.stringify({ started, threads: m.threads, y }));`,
  );
  assert.deepEqual(run.started, { simd: 'relaxed-simd', threads: 2 });
  assert.equal(run.threads, 2);
  run.y.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) <= fixture.atol + fixture.rtol * Math.abs(expected[i]), `y[${i}]`),
  );
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

test('a bundle built with --threads restores its snapshot and predicts on a team of threads in Node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-threads-bundle-'));
  try {
    const cli = (flags, ...args) =>
      execFileSync(process.execPath, [...flags, join(packageDir, 'js/cli.js'), ...args], { cwd: dir, stdio: 'pipe' });
    // The snapshot is made by running the threads build, which has relaxed SIMD.
    assert.throws(
      () => cli([RELAXED_OFF], 'build', modelPath, '--name', 'conv', '--version', '1', '--threads', '-o', dir),
      /a threads bundle is snapshotted by running that build, and this Node lacks relaxed SIMD/,
    );
    assert.throws(
      () => cli([], 'build', modelPath, '--name', 'conv', '--version', '1', '--threads', '--simd', 'simd128'),
      /--threads embeds the threads build, which has relaxed SIMD: give it without --simd/,
    );
    cli([RELAXED_ON], 'build', modelPath, '--name', 'conv', '--version', '1', '--threads', '-o', dir);
    const bundle = pathToFileURL(join(dir, 'conv.js')).href;
    // The bundle's own glue (the module its runtime imports), to see its team at work.
    const glue = pathToFileURL(join(dir, 'conv.runtime/dist/edgeinfer_threads.js')).href;
    const run = inNode(
      [RELAXED_ON],
      `const bundle = await import('${bundle}');
       const loaded = await bundle.load({ threads: 2 });
       // Predictions do not wait for the Worker to start (about 0.1 s): this does.
       const { threadsAtWork } = await import('${glue}');
       for (let waited = 0; threadsAtWork()[0] === 0 && waited < 30_000; waited += 10)
         await new Promise((resolve) => setTimeout(resolve, 10));
       // A sleeping Worker wakes as a prediction starts, maybe after this thread took every
       // part: the team is given a hundred predictions to take one.
       const answers = [];
       for (let i = 0; i < 100 && (i < 4 || threadsAtWork()[1] === 0); i++)
         answers.push(Array.from((await loaded.predict(feeds)).y.data));
       const [running, taken] = threadsAtWork();
       await api.init({ threads: 2 });
       const one = await api.Model.load(model, { threads: 1 });
       const reference = Array.from((await one.predict(feeds)).y.data);
       console.log(JSON.stringify({ threads: loaded.threads, from: loaded.loadedFrom, running, taken, answers, reference }));`,
    );
    assert.equal(run.threads, 2);
    assert.equal(run.from, 'snapshot');
    assert.equal(run.running, 1, 'the team thread runs');
    assert.ok(run.taken > 0, 'the team thread took parts of the convolutions');
    // The same bits as the package's threads build on one thread, and within onnxruntime's
    // tolerance.
    for (const answer of run.answers) assert.deepEqual(answer, run.reference);
    run.reference.forEach((v, i) =>
      assert.ok(Math.abs(v - expected[i]) <= fixture.atol + fixture.rtol * Math.abs(expected[i]), `y[${i}]`),
    );
    // Where the engine lacks relaxed SIMD the bundle does not compile, and says why.
    const lacking = inNode(
      [RELAXED_OFF],
      `const bundle = await import('${bundle}');
       const error = await bundle.load().catch((e) => ({ code: e.code, message: e.message }));
       console.log(JSON.stringify(error));`,
    );
    assert.equal(lacking.code, 'E_WASM_LOAD');
    assert.match(
      lacking.message,
      /this engine lacks relaxed SIMD, which a bundle built with --simd relaxed-simd or --threads needs/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
