// The shared suite inside headless Chromium (Debian's, driven by playwright-core), against
// the installed package served over HTTP on 127.0.0.1 with an import map, as a page would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, serve } from './chromium.mjs';
import { corpusDir, packageDir, root, signedIrisBundle, suiteFixtures } from './harness.mjs';

const artifacts = join(root, 'test-results');

const bundles = join(root, '.cache/browser-bundles');

let server, browser;
before(async () => {
  // A signed bundle made by the package's CLI, for the page to import as a user's page would.
  rmSync(bundles, { recursive: true, force: true });
  mkdirSync(bundles, { recursive: true });
  signedIrisBundle(bundles, join(bundles, 'dist'));
  server = await serve(
    {
      '/pkg/': packageDir,
      '/suite/': join(root, 'tests/suite'),
      '/models/': corpusDir(),
      '/bundles/': bundles,
      '/': join(root, 'tests/browser'),
    },
    { '/fixtures.json': JSON.stringify(suiteFixtures()) },
  );
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the shared suite passes inside headless Chromium', async (t) => {
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.__results, null, { timeout: 300000 });
  const results = await page.evaluate(() => window.__results);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, 'browser-suite.png') });
  assert.ok(results.length > 20, `only ${results.length} results`);
  for (const r of results) {
    await t.test(r.name, () => assert.ok(r.ok, r.error));
  }
  // The missing-model test makes Chromium log the 404; nothing else may reach the console.
  assert.deepEqual(
    problems.filter((p) => !/404/.test(p)),
    [],
  );
});
