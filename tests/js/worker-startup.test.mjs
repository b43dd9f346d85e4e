// A Worker's start-up in real workerd: `edgeinfer worker` scaffolds a project serving two
// real-sized CNNs (squeezenet, 5 MB, and inception_v2, 45 MB, from
// scripts/make_bench_models.py), `wrangler check startup` profiles its module scope, which
// must stay under the 400 ms Cloudflare long allowed (1 s today). Then `wrangler dev` serves
// it: readiness says the models are loading after the first request, and once loaded they
// answer as onnxruntime does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchModel } from '../../bench/paths.mjs';
import { packageDir, root } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';

const dir = join(root, '.cache/worker-startup');
const KEY = 'pk-predict-0123456789abcdef';
const STARTUP_LIMIT_MS = 400;
const wrangler = join(root, 'node_modules/.bin/wrangler');
const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' };
let models, server, base;

before(() => {
  models = { squeezenet: benchModel('squeezenet'), inception_v2: benchModel('inception_v2') };
  rmSync(dir, { recursive: true, force: true });
  execFileSync(process.execPath, [join(packageDir, 'js/cli.js'), 'worker', ...Object.values(models), '-o', dir], {
    stdio: 'pipe',
  });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(packageDir, join(dir, 'node_modules/edgeinfer'));
  writeFileSync(
    join(dir, '.dev.vars'),
    `API_KEYS='${JSON.stringify([{ name: 'test', key: KEY, scopes: ['predict'] }])}'\n`,
  );
});

after(() => server?.stop());

test('the scaffolded Worker starts within the limit, whatever its models weigh', (t) => {
  const outfile = join(dir, 'startup.cpuprofile');
  execFileSync(wrangler, ['check', 'startup', '--outfile', outfile], { cwd: dir, env: wranglerEnv, stdio: 'pipe' });
  const profile = JSON.parse(readFileSync(outfile, 'utf8'));
  assert.ok(profile.samples.length > 0, 'the profile has samples');
  const ms = (profile.endTime - profile.startTime) / 1000;
  t.diagnostic(`start-up: ${ms.toFixed(1)} ms profiled`);
  assert.ok(ms > 0 && ms < STARTUP_LIMIT_MS, `start-up took ${ms.toFixed(1)} ms, the limit is ${STARTUP_LIMIT_MS}`);
});

test('models load from the first request on, and answer as onnxruntime does', async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = start(wrangler, ['dev', '--ip', '127.0.0.1', '--port', String(port)], { cwd: dir, env: wranglerEnv });
  await waitFor(`${base}/v2/health/live`, server);
  // wrangler dev's readiness probe may have been the first request; loading takes seconds.
  const first = await fetch(`${base}/v2/health/ready`);
  const body = await first.json();
  if (first.status === 503) {
    assert.deepEqual(body.models.map((m) => m.name).sort(), ['inception_v2', 'squeezenet']);
    for (const m of body.models) assert.match(m.state, /^(unloaded|loading|ready)$/);
  } else assert.deepEqual(body, { ready: true });
  const until = Date.now() + 180000;
  while ((await fetch(`${base}/v2/health/ready`)).status !== 200) {
    assert.ok(Date.now() < until, 'the models loaded within 3 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }

  const image = new Float32Array(3 * 224 * 224);
  let seed = 7;
  for (let i = 0; i < image.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    image[i] = seed / 2147483648 - 0.5;
  }
  const require = createRequire(join(root, 'package.json'));
  const ort = await import(pathToFileURL(require.resolve('onnxruntime-web')).href);
  ort.env.wasm.numThreads = 1;
  for (const name of ['squeezenet', 'inception_v2']) {
    const session = await ort.InferenceSession.create(readFileSync(models[name]), { logSeverityLevel: 4 });
    const input = session.inputNames[0];
    const output = session.outputNames[0];
    const expected = (await session.run({ [input]: new ort.Tensor('float32', image, [1, 3, 224, 224]) }))[output];
    // The image as a raw float32 tensor (the binary extension): as JSON it would be 3 MB.
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: [
          {
            name: input,
            shape: [1, 3, 224, 224],
            datatype: 'FP32',
            parameters: { binary_data_size: image.byteLength },
          },
        ],
        outputs: [{ name: output }],
      }),
    );
    const r = await fetch(`${base}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
      body: Buffer.concat([header, new Uint8Array(image.buffer)]),
    });
    const json = await r.json();
    assert.equal(r.status, 200, JSON.stringify(json));
    const got = json.outputs[0];
    assert.deepEqual(got.shape, expected.dims);
    let worst = 0;
    for (let i = 0; i < got.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - expected.data[i]));
    assert.ok(worst < 1e-3, `${name}: largest difference from onnxruntime ${worst}`);
    await session.release();
  }
});
