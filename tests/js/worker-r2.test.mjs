// Models kept in R2 instead of in the script, in real workerd with wrangler's local R2: a
// project scaffolded by `edgeinfer worker --r2`, its models put in the bucket by its own
// `upload-models:local` script, served by `wrangler dev`. A model whose object was swapped,
// or is missing, is refused with its code while the others serve.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { corpusDir, importPackage, packageDir, root, runCli, signedIrisBundle } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';
import { close } from '../suite/assert.mjs';

const dir = join(root, '.cache/worker-r2');
const modelsDir = join(root, '.cache/worker-r2-models');
const BUCKET = 'edgeinfer-test-models';
const KEY = 'pk-predict-0123456789abcdef';
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CI: '1',
  PATH: `${join(root, 'node_modules/.bin')}${delimiter}${process.env.PATH}`,
};
const x = Array.from({ length: 2 * 32 }, (_, i) => Math.sin(i) * 2);
let server, base;

before(async () => {
  for (const d of [dir, modelsDir]) rmSync(d, { recursive: true, force: true });
  mkdirSync(modelsDir, { recursive: true });
  copyFileSync(join(corpusDir(), 'mlp_tabular.onnx'), join(modelsDir, 'mlp_tabular.onnx'));
  copyFileSync(join(corpusDir(), 'mlp_tabular.onnx'), join(modelsDir, 'swapped.onnx'));
  signedIrisBundle(modelsDir, 'dist', '2');
  runCli(
    modelsDir,
    'worker',
    'mlp_tabular.onnx',
    'swapped.onnx',
    'dist/iris.wasm',
    '--public-key',
    'team.pub',
    '--r2',
    BUCKET,
    '-o',
    dir,
  );
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(packageDir, join(dir, 'node_modules/edgeinfer'));
  writeFileSync(
    join(dir, '.dev.vars'),
    `API_KEYS='${JSON.stringify([{ name: 't', key: KEY, scopes: ['predict'] }])}'\n`,
  );
  // A model whose object is not in the bucket, pinned like the others.
  const models = join(dir, 'src/models.js');
  writeFileSync(
    models,
    readFileSync(models, 'utf8').replace(
      /\n\];/,
      `\n  { name: 'missing', version: '1', r2: { key: 'missing.onnx', sha256: '${'0'.repeat(64)}' } },\n];`,
    ),
  );
  execFileSync('npm', ['run', '--silent', 'upload-models:local'], { cwd: dir, env, stdio: 'pipe' });
  // Someone with access to the bucket replaces one model.
  execFileSync(
    'wrangler',
    ['r2', 'object', 'put', `${BUCKET}/swapped.onnx`, '--file', join(root, 'examples/iris.onnx'), '--local'],
    { cwd: dir, env, stdio: 'pipe' },
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = start('wrangler', ['dev', '--ip', '127.0.0.1', '--port', String(port)], { cwd: dir, env });
  await waitFor(`${base}/v2/health/live`, server);
  const until = Date.now() + 120000;
  for (;;) {
    const ready = await (await fetch(`${base}/v2/health/ready`)).json();
    if (ready.ready || ready.models.every((m) => m.state === 'ready' || m.state === 'failed')) break;
    if (Date.now() > until) throw new Error(`the models did not load: ${JSON.stringify(ready)}\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(() => server?.stop());

const infer = (name, inputs) =>
  fetch(`${base}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs }),
  }).then(async (r) => ({ status: r.status, json: await r.json() }));

test('the script imports no model', () => {
  const models = readFileSync(join(dir, 'src/models.js'), 'utf8');
  assert.doesNotMatch(models, /^import /m);
  assert.match(readFileSync(join(dir, 'wrangler.toml'), 'utf8'), /\[\[r2_buckets\]\]\nbinding = "MODELS"/);
});

test('models read from R2 answer as the same files do in Node, within float rounding', async () => {
  const r = await infer('mlp_tabular', [{ name: 'x', shape: [2, 32], datatype: 'FP32', data: x }]);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const { Model } = await importPackage();
  const local = await Model.load(readFileSync(join(corpusDir(), 'mlp_tabular.onnx')));
  const expected = await local.predict({ x: { data: Float32Array.from(x), shape: [2, 32] } });
  const [name] = Object.keys(expected);
  const got = r.json.outputs.find((o) => o.name === name);
  assert.deepEqual(got.shape, [...expected[name].shape]);
  // The Worker runs the relaxed-SIMD build and this Node the simd128 one unless started
  // with its flag: fused multiply-adds round once, so the last bits may differ.
  close(got.data, expected[name].data, { rtol: 1e-5, atol: 1e-6 });
  const iris = await infer('iris', [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }]);
  assert.equal(iris.status, 200, JSON.stringify(iris.json));
});

test('a swapped or missing object is refused with its code; readiness says which', async () => {
  const ready = await fetch(`${base}/v2/health/ready`);
  assert.equal(ready.status, 503);
  const states = Object.fromEntries((await ready.json()).models.map((m) => [m.name, m]));
  assert.equal(states.mlp_tabular.state, 'ready');
  assert.equal(states.iris.state, 'ready');
  assert.deepEqual(states.swapped, { name: 'swapped', version: '1', state: 'failed', error: 'E_INTEGRITY' });
  assert.deepEqual(states.missing, { name: 'missing', version: '1', state: 'failed', error: 'E_MODEL_FETCH' });
  const refused = await infer('swapped', [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: x.slice(0, 32) }]);
  assert.equal(refused.status, 503);
  assert.match(refused.json.error, /failed to load: E_INTEGRITY/);
  assert.match(server.output(), /R2 object 'swapped.onnx' has SHA-256 [0-9a-f]{64}, expected/);
});
