// The shared suite inside headless Chromium (Debian's, driven by playwright-core), against
// the installed package served over HTTP on 127.0.0.1 with an import map, as a page would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ISOLATED, launchChromium, serve } from './chromium.mjs';
import { corpusDir, packageDir, root, signedIrisBundle, suiteFixtures } from './harness.mjs';

const artifacts = join(root, 'test-results');

const bundles = join(root, '.cache/browser-bundles');

let server, isolated, browser;
before(async () => {
  // A signed bundle made by the package's CLI, for the page to import as a user's page would.
  rmSync(bundles, { recursive: true, force: true });
  mkdirSync(bundles, { recursive: true });
  signedIrisBundle(bundles, join(bundles, 'dist'));
  // A convolution large enough to split, built with --threads (made by running the threads
  // build, which has relaxed SIMD).
  const conv = join(root, 'tests/fixtures/layers/conv_3x3.onnx');
  const build = [join(packageDir, 'js/cli.js'), 'build', conv, '--name', 'conv', '--version', '1', '--threads'];
  execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', ...build, '-o', join(bundles, 'threads')]);
  const routes = {
    '/pkg/': packageDir,
    '/suite/': join(root, 'tests/suite'),
    '/models/': corpusDir(),
    '/layers/': join(root, 'tests/fixtures/layers'),
    '/bundles/': bundles,
    '/': join(root, 'tests/browser'),
  };
  const pages = { '/fixtures.json': JSON.stringify(suiteFixtures()) };
  server = await serve(routes, pages);
  // The same pages, cross-origin isolated: there the page may run on threads.
  isolated = await serve(routes, pages, ISOLATED);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  isolated?.close();
});

/**
 * Opens the test page with `query`, from `on` (a server); resolves to its results, the build
 * it started (`init`'s answer), the wasm files it fetched and what reached the console.
 */
async function runPage(query, screenshot, on = server) {
  const page = await browser.newPage();
  const problems = [];
  const wasmFetched = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => {
    if (r.url().endsWith('.wasm') && r.url().includes('/pkg/')) wasmFetched.push(r.url().replace(/.*\//, ''));
  });
  await page.goto(`http://127.0.0.1:${on.address().port}/${query}`);
  await page.waitForFunction(() => window.__results, null, { timeout: 300000 });
  const [results, simd, threads] = await page.evaluate(() => [window.__results, window.__simd, window.__threads]);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, screenshot) });
  await page.close();
  // The missing-model test makes Chromium log the 404; nothing else may reach the console.
  return { results, simd, threads, wasmFetched, problems: problems.filter((p) => !/404/.test(p)) };
}

test('the shared suite passes inside headless Chromium, on the relaxed-SIMD build it fetches alone', async (t) => {
  const { results, simd, threads, wasmFetched, problems } = await runPage('', 'browser-suite.png');
  assert.ok(results.length > 20, `only ${results.length} results`);
  for (const r of results) {
    await t.test(r.name, () => assert.ok(r.ok, r.error));
  }
  assert.deepEqual(problems, []);
  // Chromium has relaxed SIMD: the page starts that build and downloads no other. The page is
  // not cross-origin isolated: one thread, though it asked for four.
  assert.equal(simd, 'relaxed-simd');
  assert.equal(threads, 1);
  assert.deepEqual(wasmFetched, ['edgeinfer_relaxed_bg.wasm']);
});

test('the corpus matches onnxruntime in Chromium on the simd128 build too, when a page asks for it', async (t) => {
  const { results, simd, wasmFetched, problems } = await runPage(
    '?simd=simd128&filter=^corpus ',
    'browser-simd128.png',
  );
  assert.ok(results.filter((r) => r.name.startsWith('corpus ')).length >= 10, `only ${results.length} results`);
  for (const r of results) {
    await t.test(r.name, () => assert.ok(r.ok, r.error));
  }
  assert.deepEqual(problems, []);
  assert.equal(simd, 'simd128');
  assert.deepEqual(wasmFetched, ['edgeinfer_bg.wasm']);
});

test('a cross-origin isolated page runs the shared suite on threads, the threads build alone fetched', async (t) => {
  const { results, simd, threads, wasmFetched, problems } = await runPage('', 'browser-threads.png', isolated);
  assert.ok(results.length > 20, `only ${results.length} results`);
  for (const r of results) {
    await t.test(r.name, () => assert.ok(r.ok, r.error));
  }
  assert.deepEqual(problems, []);
  // It asked for four, and runs four: the page and three Workers.
  assert.equal(threads, 4);
  assert.equal(simd, 'relaxed-simd');
  assert.deepEqual(wasmFetched, ['edgeinfer_threads_bg.wasm']);
  assert.ok(results.some((r) => r.name.startsWith('browser: a convolution split')));
  assert.ok(results.some((r) => r.name === 'browser: a bundle built with --threads runs on a team of Workers'));
});
