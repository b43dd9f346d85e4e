// The threads build in a cross-origin isolated page of headless Chromium: each model loaded
// twice (1 thread and --threads), then onnxruntime-web 1.31.1 on as many threads in the same
// page; alternating rounds (bench/timing.mjs), medians of each round pair's ratio, batch 1.
//   node bench/threads-page.mjs [--only squeezenet,...] [--rounds N] [--ms MS] [--threads N]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MODELS } from './models.mjs';
import { root } from './paths.mjs';
import { listArg, numberArg } from './timing.mjs';
import { ISOLATED, launchChromium, serve } from '../tests/js/chromium.mjs';

const ROUNDS = numberArg('rounds', 9),
  MS = numberArg('ms', 400),
  THREADS = numberArg('threads', 2);
const names = listArg('only') ?? ['squeezenet', 'resnet50', 'inception_v2', 'shufflenet', 'minilm'];

const ortDist = dirname(createRequire(join(root, 'package.json')).resolve('onnxruntime-web'));
const models = Object.fromEntries(names.map((n) => [`/models/${n}.onnx`, readFileSync(MODELS[n].path())]));
const server = await serve(
  { '/pkg/': root, '/bench/': join(root, 'bench'), '/ort/': ortDist, '/': join(root, 'bench') },
  models,
  ISOLATED,
);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page: ${e.message}`));
  const query = new URLSearchParams({
    threads: THREADS,
    rounds: ROUNDS,
    ms: MS,
    models: names.map((n) => `${n}=${MODELS[n].feeds}`).join(','),
  });
  await page.goto(`http://127.0.0.1:${server.address().port}/threads-page.html?${query}`);
  await page.waitForFunction(() => window.__rows, null, { timeout: 1800000, polling: 1000 });
  const { started, isolated, rows } = await page.evaluate(() => window.__rows);
  if (!isolated || started.threads !== THREADS)
    throw new Error(`the page is not on ${THREADS} threads: ${JSON.stringify({ started, isolated })}`);
  console.log(
    `| model | 1 thread, ms | ${THREADS} threads, ms | speed-up | onnxruntime-web, ${THREADS} threads, ms | edgeinfer / onnxruntime-web |\n|---|---|---|---|---|---|`,
  );
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.one.toFixed(2)} | ${r.many.toFixed(2)} | ${r.speedup.toFixed(2)} | ${r.ort.toFixed(2)} | ${r.ratio.toFixed(3)} |`,
    );
  console.log(
    `\nHeadless Chromium ${browser.version()}, cross-origin isolated; batch 1; ${ROUNDS} alternating rounds of ${MS} ms, medians.`,
  );
} finally {
  await browser.close();
  server.close();
}
