// `npm run bench:bundle`: cold start of a bundle (`edgeinfer build`, which stores the loaded
// model's memory) against loading the raw ONNX with the runtime, and with onnxruntime-web,
// from import to first prediction; for encoder_block and a CNN of a few MB. A bundle built
// with --no-snapshot (ONNX only) is measured too, with each file's size. Every sample is a
// fresh Node process, or with --browser a freshly launched headless Chromium (its own empty
// profile, so no compiled code is cached), given a second to settle, opening a page served
// from 127.0.0.1.
//   node bench/bundle.mjs [--cold N] [--browser]
import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { benchModel, corpusDir, root } from './paths.mjs';
import { median, numberArg } from './timing.mjs';

const COLD = numberArg('cold', 7);
const BROWSER = process.argv.includes('--browser');
const out = join(root, '.cache/bench/bundles');

const models = [
  { name: 'encoder_block', path: join(corpusDir(), 'encoder_block.onnx'), feeds: 'encoder_s16' },
  { name: 'cnn', path: benchModel('cnn'), feeds: 'cnn_b1' },
];

/** Fresh Node processes: bench/cold.mjs and bench/cold-bundle.mjs. */
function nodeSamples() {
  const run = (args) => JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
  return {
    where: `fresh Node ${process.version} processes`,
    raw: async (runtime, m) => run([join(root, 'bench/cold.mjs'), runtime, m.path, m.feeds]).totalMs,
    bundle: async (module, m) => run([join(root, 'bench/cold-bundle.mjs'), module, m.feeds]),
    close() {},
  };
}

/** A new headless Chromium per sample, running bench/cold-page.mjs. */
async function browserSamples() {
  const { launchChromium, serve } = await import('../tests/js/chromium.mjs');
  const ortDist = dirname(createRequire(join(root, 'package.json')).resolve('onnxruntime-web'));
  const routes = {
    '/pkg/js/': join(root, 'js'),
    '/pkg/dist/': join(root, 'dist'),
    '/bench/': join(root, 'bench'),
    '/ort/': ortDist,
    '/corpus/': corpusDir(),
    '/cache/': join(root, '.cache/bench'),
  };
  const server = await serve(routes, {
    '/cold.html': '<!doctype html><script type="module" src="/bench/cold-page.mjs"></script>',
  });
  const urlFor = (path) => {
    const [prefix, dir] = Object.entries(routes).find(([, d]) => path.startsWith(d + sep));
    return prefix + relative(dir, path).split(sep).join('/');
  };
  const browser = await launchChromium();
  const version = browser.version();
  await browser.close();
  const sample = async (query) => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      // A browser that has just started is still busy starting: a user's has settled.
      await page.waitForTimeout(1000);
      await page.goto(`http://127.0.0.1:${server.address().port}/cold.html?${new URLSearchParams(query)}`);
      await page.waitForFunction(() => window.__result, null, { timeout: 120_000 });
      const result = await page.evaluate(() => window.__result);
      if (result.error) throw new Error(`${query.kind} ${query.url}: ${result.error}`);
      return result;
    } finally {
      await browser.close();
    }
  };
  return {
    where: `freshly launched headless Chromium ${version}`,
    raw: async (runtime, m) => (await sample({ kind: runtime, url: urlFor(m.path), feeds: m.feeds })).totalMs,
    bundle: (module, m) => sample({ kind: 'bundle', url: urlFor(module), feeds: m.feeds }),
    close: () => server.close(),
  };
}

const build = (m, dir, ...flags) => {
  execFileSync(
    process.execPath,
    [join(root, 'js/cli.js'), 'build', m.path, '--name', m.name, '--version', '1', ...flags, '-o', dir],
    { stdio: 'pipe' },
  );
  return join(dir, `${m.name}.js`);
};
const mb = (path) => `${(statSync(path).size / 1e6).toFixed(1)} MB`;

const samples = BROWSER ? await browserSamples() : nodeSamples();
/** A bundle's time, after checking it loaded the way it was built to. */
const bundleMs = async (module, m, loadedFrom) => {
  const r = await samples.bundle(module, m);
  if (r.loadedFrom !== loadedFrom) throw new Error(`${module} loaded from ${r.loadedFrom}, not ${loadedFrom}`);
  return r.totalMs;
};

rmSync(out, { recursive: true, force: true });
console.log(
  '| model | raw ONNX | bundle | speed-up | bundle without snapshot | its speed-up | onnxruntime-web, raw ONNX | bundle size (without snapshot) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const m of models) {
  const withSnapshot = build(m, join(out, 'snapshot'));
  const withoutSnapshot = build(m, join(out, 'onnx'), '--no-snapshot');
  const raw = [],
    bundled = [],
    plain = [],
    ort = [];
  for (let k = 0; k < COLD; k++) {
    raw.push(await samples.raw('edgeinfer', m));
    bundled.push(await bundleMs(withSnapshot, m, 'snapshot'));
    plain.push(await bundleMs(withoutSnapshot, m, 'onnx'));
    ort.push(await samples.raw('onnxruntime-web', m));
  }
  const [r, b, p, o] = [median(raw), median(bundled), median(plain), median(ort)];
  const size = `${mb(withSnapshot.replace(/js$/, 'wasm'))} (${mb(withoutSnapshot.replace(/js$/, 'wasm'))})`;
  console.log(
    `| ${m.name} | ${r.toFixed(1)} ms | ${b.toFixed(1)} ms | ${(r / b).toFixed(2)}x | ${p.toFixed(1)} ms | ${(r / p).toFixed(2)}x | ${o.toFixed(1)} ms | ${size} |`,
  );
}
samples.close();
console.log(`\nImport to first prediction, median of ${COLD} ${samples.where} each.`);
