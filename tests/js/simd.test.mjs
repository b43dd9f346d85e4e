// The package's two builds of the core in Node (js/variant.js): which one starts, the simd
// option's errors, and the shared suite again on the relaxed-SIMD build, in a Node started
// with relaxed SIMD on (Node 20 has it behind a flag; the suite's other run, node.test.mjs,
// gets the engine's default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { importPackage, packageDir, root, runSuite } from './harness.mjs';

const RELAXED_ON = '--experimental-wasm-relaxed-simd';
const RELAXED_OFF = '--no-experimental-wasm-relaxed-simd';
const entry = pathToFileURL(join(packageDir, 'js/node.js')).href;
const iris = join(root, 'examples/iris.onnx');

/** Runs `script` (an ES module that may `await`) in a new Node with `flags`; its JSON output. */
function inNode(flags, script) {
  const program = `import * as api from '${entry}';\nconst iris = ${JSON.stringify(iris)};\n${script}`;
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', program], { encoding: 'utf8' });
  return JSON.parse(out);
}

/** `init` with `options`, then a prediction: the build that ran and the answer, or the error. */
const START_AND_PREDICT = (options) => `
  const outcome = {};
  try { outcome.simd = (await api.init(${options})).simd; } catch (e) { outcome.error = [e.code, e.message]; }
  const m = await api.Model.load((await import('node:fs')).readFileSync(iris));
  const out = await m.predict({ features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4] } });
  outcome.probabilities = Array.from(out.probabilities.data);
  outcome.after = (await api.init()).simd;
  console.log(JSON.stringify(outcome));`;

test('init starts relaxed SIMD where the engine has it, simd128 where not, and says which', () => {
  const on = inNode([RELAXED_ON], START_AND_PREDICT('{}'));
  const off = inNode([RELAXED_OFF], START_AND_PREDICT('{}'));
  const asked = inNode([RELAXED_ON], START_AND_PREDICT("{ simd: 'simd128' }"));
  assert.equal(on.simd, 'relaxed-simd');
  assert.equal(off.simd, 'simd128');
  assert.equal(asked.simd, 'simd128');
  // The same answers within float tolerance: fused multiply-adds round once, not twice.
  for (const other of [off, asked]) {
    on.probabilities.forEach((p, i) =>
      assert.ok(Math.abs(p - other.probabilities[i]) < 1e-5, `${p} ${other.probabilities[i]}`),
    );
  }
});

test('the simd option refuses, with E_INVALID_OPTION, what cannot run, and the module stays usable', async () => {
  const lacking = inNode([RELAXED_OFF], START_AND_PREDICT("{ simd: 'relaxed-simd' }"));
  assert.equal(lacking.error[0], 'E_INVALID_OPTION');
  assert.match(lacking.error[1], /simd: 'relaxed-simd' cannot run here: this engine lacks relaxed SIMD/);
  assert.equal(lacking.after, 'simd128');
  assert.equal(lacking.probabilities.length, 3);
  // Once started, the other build cannot be had; the model still predicts.
  const late = inNode(
    [RELAXED_ON],
    `await api.init({ simd: 'simd128' });\n${START_AND_PREDICT("{ simd: 'relaxed-simd' }")}`,
  );
  assert.equal(late.error[0], 'E_INVALID_OPTION');
  assert.match(late.error[1], /already started as simd128/);
  assert.equal(late.after, 'simd128');
  assert.equal(late.probabilities.length, 3);
  // In this process: a name that is no build, and a build named beside a given module.
  const { init } = await importPackage();
  await assert.rejects(init({ simd: 'fast' }), {
    code: 'E_INVALID_OPTION',
    message: "the simd option is 'auto', 'relaxed-simd' or 'simd128', got 'fast'",
  });
  await assert.rejects(init({ simd: 2 }), { code: 'E_INVALID_OPTION', message: /got a number$/ });
  const wasm = readFileSync(join(packageDir, 'dist/edgeinfer_bg.wasm'));
  await assert.rejects(init({ simd: 'simd128', wasm }), {
    code: 'E_INVALID_OPTION',
    message: /with the wasm option, the module given runs as it is/,
  });
  assert.ok(['relaxed-simd', 'simd128'].includes((await init()).simd));
});

test('a module given as the wasm option reports its own build', () => {
  const given = inNode(
    [RELAXED_ON],
    `const fs = await import('node:fs');
     const wasm = fs.readFileSync(${JSON.stringify(join(packageDir, 'dist/edgeinfer_relaxed_bg.wasm'))});
     ${START_AND_PREDICT('{ wasm }')}`,
  );
  assert.equal(given.simd, 'relaxed-simd');
});

test('the shared suite passes on the relaxed-SIMD build', () => {
  const run = runSuite([RELAXED_ON], { EDGEINFER_SIMD: 'relaxed-simd' });
  assert.match(run, /ok \d+ - the suite runs on relaxed-simd, 1 thread/);
});

/** `edgeinfer build` of the iris example into `out` in a Node with `flags`; its result. */
const buildIris = (flags, out, ...args) =>
  spawnSync(
    process.execPath,
    [...flags, join(packageDir, 'js/cli.js'), 'build', iris, '--name', 'iris', '--version', '1', '-o', out, ...args],
    { encoding: 'utf8' },
  );

/** Loads the bundle in `dir` through its generated module in a Node with `flags`, and predicts. */
const PREDICT_BUNDLE = (dir) => `
  const outcome = {};
  try {
    const bundle = await import(${JSON.stringify(pathToFileURL(join(dir, 'iris.js')).href)});
    const m = await bundle.load();
    const out = await m.predict({ features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4] } });
    outcome.probabilities = Array.from(out.probabilities.data);
    outcome.loadedFrom = m.loadedFrom;
  } catch (e) { outcome.error = [e.code, e.message]; }
  console.log(JSON.stringify(outcome));`;

test('edgeinfer build --simd relaxed-simd embeds that build, which starts only where the engine has it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-simd-'));
  const [relaxed, plain] = [join(dir, 'relaxed'), join(dir, 'plain')];
  const built = buildIris([RELAXED_ON], relaxed, '--simd', 'relaxed-simd');
  assert.equal(built.status, 0, built.stderr);
  assert.equal(buildIris([], plain).status, 0);
  // The bundle is its build's wasm with the model's sections after it.
  const runtime = readFileSync(join(packageDir, 'dist/edgeinfer_relaxed_bg.wasm'));
  const bundle = readFileSync(join(relaxed, 'iris.wasm'));
  assert.ok(bundle.subarray(0, runtime.length).equals(runtime), 'iris.wasm begins with the relaxed-SIMD build');
  const on = inNode([RELAXED_ON], PREDICT_BUNDLE(relaxed));
  const simd128 = inNode([RELAXED_OFF], PREDICT_BUNDLE(plain));
  assert.equal(on.loadedFrom, 'snapshot', JSON.stringify(on));
  on.probabilities.forEach((p, i) => assert.ok(Math.abs(p - simd128.probabilities[i]) < 1e-5));
  const off = inNode([RELAXED_OFF], PREDICT_BUNDLE(relaxed));
  assert.equal(off.error[0], 'E_WASM_LOAD');
  assert.match(
    off.error[1],
    /this engine lacks relaxed SIMD, which a bundle built with --simd relaxed-simd or --threads needs/,
  );
});

test('edgeinfer build --simd refuses a build that is not one, and a snapshot this Node cannot make', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-simd-'));
  const unknown = buildIris([], dir, '--simd', 'avx2');
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr, /--simd is relaxed-simd or simd128, got 'avx2'/);
  const lacking = buildIris([RELAXED_OFF], dir, '--simd', 'relaxed-simd');
  assert.notEqual(lacking.status, 0);
  assert.match(
    lacking.stderr,
    /this Node lacks relaxed SIMD: use Node 22 or later, or node --experimental-wasm-relaxed-simd/,
  );
  // Without the snapshot, nothing runs the build at build time.
  const unsnapshotted = buildIris([RELAXED_OFF], dir, '--simd', 'relaxed-simd', '--no-snapshot');
  assert.equal(unsnapshotted.status, 0, unsnapshotted.stderr);
  const on = inNode([RELAXED_ON], PREDICT_BUNDLE(dir));
  assert.equal(on.loadedFrom, 'onnx', JSON.stringify(on));
  assert.equal(on.probabilities.length, 3);
});

test('each build of the wasm is at most 2.5 MB gzipped', async () => {
  const { THREADS_FILE, WASM_FILES } = await import(pathToFileURL(join(packageDir, 'js/variant.js')).href);
  const files = [...Object.values(WASM_FILES), THREADS_FILE];
  assert.equal(files.length, 3);
  for (const file of files) {
    const gzipped = gzipSync(readFileSync(join(packageDir, 'dist', file)), { level: 9 }).length;
    assert.ok(gzipped <= 2_500_000, `${file}: ${gzipped} bytes gzipped`);
  }
});
