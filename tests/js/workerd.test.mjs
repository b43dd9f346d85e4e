// The shared suite inside real workerd (wrangler dev on 127.0.0.1), against the installed
// package: the Worker imports 'edgeinfer' as any Worker would, and wrangler's bundler
// picks the package's "workerd" export, which imports the wasm as a module.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { packageDir, root, signedIrisBundle, suiteFixtures } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';

const dir = join(root, '.cache/workerd-test');
let server, base;

before(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  cpSync(join(root, 'tests/workerd'), dir, { recursive: true });
  cpSync(join(root, 'tests/suite'), join(dir, 'suite'), { recursive: true });
  symlinkSync(packageDir, join(dir, 'node_modules/edgeinfer'));
  signedIrisBundle(dir, join(dir, 'bundles'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = start(
    join(root, 'node_modules/.bin/wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'],
    {
      cwd: dir,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    },
  );
  await waitFor(`${base}/health`, server);
});

after(() => server?.stop());

test('the shared suite passes inside workerd', async (t) => {
  const response = await fetch(`${base}/suite`, { method: 'POST', body: JSON.stringify(suiteFixtures()) });
  assert.equal(response.status, 200, await response.clone().text());
  const results = await response.json();
  assert.ok(results.length > 20, `only ${results.length} results`);
  for (const r of results) {
    await t.test(r.name, () => assert.ok(r.ok, r.error));
  }
});

test("a generated bundle module predicts in workerd, checked with the signer's key", async () => {
  const key = encodeURIComponent(readFileSync(join(dir, 'team.pub'), 'utf8'));
  const r = await fetch(`${base}/bundle?publicKey=${key}`);
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.deepEqual(body.label, [0, 2]);
  assert.deepEqual(body.labels, ['setosa', 'versicolor', 'virginica']);
  assert.equal(body.signer.algorithm, 'Ed25519');
  // The first bundle the isolate opens restores the model as the build loaded it.
  assert.equal(body.loadedFrom, 'snapshot');
});

test('the wasm option takes only a compiled module in workerd: bytes and URLs are E_INVALID_OPTION', async () => {
  const codes = await (await fetch(`${base}/wasm-forms`)).json();
  assert.equal(codes.length, 3);
  for (const c of codes) assert.match(c, /^E_INVALID_OPTION: the wasm option takes only a WebAssembly\.Module/);
});
