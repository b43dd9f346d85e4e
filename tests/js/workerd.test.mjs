// The shared suite inside real workerd (wrangler dev on 127.0.0.1), against the installed
// package: the Worker imports 'edgeinfer' as any Worker would, and wrangler's bundler
// picks the package's "workerd" export, which imports the wasm as a module.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { irisBundle, packageDir, root, signedIrisBundle, suiteFixtures } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';

const dir = join(root, '.cache/workerd-test');
let server, base, simd128Server, simd128Base;

before(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  cpSync(join(root, 'tests/workerd'), dir, { recursive: true });
  cpSync(join(root, 'tests/suite'), join(dir, 'suite'), { recursive: true });
  symlinkSync(packageDir, join(dir, 'node_modules/edgeinfer'));
  // A package of its own: inside the checkout, the nearest package.json would be the
  // checkout's, whose name is "edgeinfer", and the bundler would resolve the Worker's
  // 'edgeinfer' to the checkout itself instead of the installed package.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'edgeinfer-workerd-test', private: true }));
  signedIrisBundle(dir, join(dir, 'bundles'));
  irisBundle(dir, join(dir, 'bundles-relaxed'), { simd: 'relaxed-simd' });
  // Two Workers, one per build: a Worker carries the one its entry point imports.
  [server, base] = await devServer([]);
  [simd128Server, simd128Base] = await devServer(['simd128.mjs', '--name', 'edgeinfer-test-simd128']);
});

/** `wrangler dev` on a free port in `dir`, with `args` (a script, a name) beside the config's. */
async function devServer(args) {
  const port = await freePort();
  const started = start(
    join(root, 'node_modules/.bin/wrangler'),
    ['dev', ...args, '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'],
    {
      cwd: dir,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`, started);
  return [started, url];
}

after(() => {
  server?.stop();
  simd128Server?.stop();
});

/** Runs the shared suite in the Worker at `url`, a subtest per case. */
async function suiteIn(t, url) {
  const response = await fetch(`${url}/suite`, { method: 'POST', body: JSON.stringify(suiteFixtures()) });
  assert.equal(response.status, 200, await response.clone().text());
  const results = await response.json();
  assert.ok(results.length > 20, `only ${results.length} results`);
  for (const r of results) {
    await t.test(r.name, () => assert.ok(r.ok, r.error));
  }
}

test('the shared suite passes inside workerd on the default entry point, the relaxed-SIMD build', async (t) => {
  assert.deepEqual(await (await fetch(`${base}/simd`)).json(), { simd: 'relaxed-simd', threads: 1 });
  await suiteIn(t, base);
});

test("the shared suite passes inside workerd on 'edgeinfer/simd128', the simd128 build", async (t) => {
  assert.deepEqual(await (await fetch(`${simd128Base}/simd`)).json(), { simd: 'simd128', threads: 1 });
  await suiteIn(t, simd128Base);
});

for (const relaxed of [false, true])
  test(`a generated bundle module${relaxed ? ' with the relaxed-SIMD build' : ''} predicts in workerd, checked with the signer's key`, async () => {
    if (relaxed) {
      const runtime = readFileSync(join(packageDir, 'dist/edgeinfer_relaxed_bg.wasm'));
      const bundle = readFileSync(join(dir, 'bundles-relaxed/iris.wasm'));
      assert.ok(bundle.subarray(0, runtime.length).equals(runtime), 'the bundle carries the relaxed-SIMD build');
    }
    const key = encodeURIComponent(readFileSync(join(dir, 'team.pub'), 'utf8'));
    const r = await fetch(`${base}/bundle?publicKey=${key}${relaxed ? '&relaxed' : ''}`);
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.deepEqual(body.label, [0, 2]);
    assert.deepEqual(body.labels, ['setosa', 'versicolor', 'virginica']);
    assert.equal(body.signer.algorithm, 'Ed25519');
    // A bundle's first load in the isolate restores the model as the build loaded it.
    assert.equal(body.loadedFrom, 'snapshot');
  });

test('wrangler bundles the package and a generated Worker module without warnings', () => {
  // Such as "Your Worker may throw errors at runtime unless you enable the nodejs_compat
  // compatibility flag", for a `node:` import anywhere in what the Worker imports.
  assert.doesNotMatch(server.output(), /nodejs_compat|WARNING/);
});

test('workerd takes only a compiled module as the wasm option, and only the build imported', async () => {
  const { codes, simd128 } = await (await fetch(`${base}/wasm-forms`)).json();
  assert.equal(codes.length, 3);
  for (const c of codes) assert.match(c, /^E_INVALID_OPTION: the wasm option takes only a WebAssembly\.Module/);
  assert.match(
    simd128,
    /^E_INVALID_OPTION: simd: 'simd128' cannot run here: this entry point starts only relaxed-simd: .*'edgeinfer\/simd128'/,
  );
});

test("the README's Worker sample and its wrangler.toml bundle without warnings", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('### Cloudflare Workers');
  const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
  const block = (lang) => section.match(new RegExp(`\`\`\`${lang}\n([^]*?)\`\`\``))[1];
  const sample = join(dir, 'readme-sample');
  mkdirSync(sample, { recursive: true });
  writeFileSync(join(sample, 'worker.js'), block('js'));
  writeFileSync(
    join(sample, 'wrangler.toml'),
    `name = "readme-sample"\nmain = "worker.js"\ncompatibility_date = "2026-04-01"\n${block('toml')}`,
  );
  cpSync(join(root, 'examples/iris.onnx'), join(sample, 'model.onnx'));
  const { stdout, stderr } = await promisify(execFile)(
    join(root, 'node_modules/.bin/wrangler'),
    ['deploy', '--dry-run', '--outdir', 'out'],
    { cwd: sample, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
  );
  assert.match(stdout + stderr, /--dry-run: exiting now/);
  assert.doesNotMatch(stdout + stderr, /WARNING/);
});
