// What a loaded model costs in memory: the resident-memory growth of a fresh Node process from
// before the runtime is imported to after the model's load and one prediction ("first"), and
// after ten more predictions with idle time between them, when edgeinfer has specialised its
// plan for the shape ("steady"). The model file's bytes are read after the baseline and kept,
// as a Worker keeps the models it imports. Medians of --runs fresh processes per cell. For
// edgeinfer, also the heap bytes the model holds at steady state (`model.memory().bytes`), as
// loaded by default and with its input shapes fixed (`inputShapes`), which holds the weights once.
//   node bench/memory.mjs [--runs N] [MODEL ...]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RUNTIMES } from './runtimes.mjs';
import { feeds as feedsOf } from './feeds.mjs';
import { benchModel, corpusDir } from './paths.mjs';
import { median, numberArg } from './timing.mjs';

const MB = 1024 * 1024;
const rss = () => {
  globalThis.gc?.();
  return process.memoryUsage().rss;
};

if (process.argv[2] === '--one') {
  const [runtime, path, spec, fixed] = process.argv.slice(3);
  const feeds = feedsOf(spec);
  const before = rss();
  const bytes = new Uint8Array(readFileSync(path));
  const rt = await RUNTIMES[runtime]();
  const inputShapes = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, t.shape]));
  const model = await rt.load(bytes, fixed === 'fixed' ? { inputShapes } : undefined);
  await rt.predict(model, feeds);
  const first = rss() - before;
  for (let i = 0; i < 10; i++) {
    await rt.predict(model, feeds);
    await new Promise((r) => setTimeout(r, 20));
  }
  const held = model.memory ? model.memory().bytes / MB : null;
  console.log(JSON.stringify({ first: first / MB, steady: (rss() - before) / MB, held }));
  process.exit(0);
}

const MODELS = {
  mlp_tabular: () => [`${corpusDir()}/mlp_tabular.onnx`, 'mlp_b1'],
  squeezenet: () => [benchModel('squeezenet'), 'image224:data_0'],
  inception_v2: () => [benchModel('inception_v2'), 'image224:data_0'],
  minilm: () => [benchModel('minilm'), 'text128'],
};
const runs = numberArg('runs', 3);
const names = process.argv.slice(2).filter((a) => MODELS[a]);
const rows = [];
for (const name of names.length ? names : Object.keys(MODELS)) {
  const [path, spec] = MODELS[name]();
  const cells = {};
  // Rounds alternate between the columns, so that a slow spell of the machine falls on each.
  const COLUMNS = { edgeinfer: ['edgeinfer'], fixed: ['edgeinfer', 'fixed'], ort: ['onnxruntime-web'] };
  const samples = Object.fromEntries(Object.keys(COLUMNS).map((c) => [c, []]));
  for (let i = 0; i < runs; i++) {
    for (const [column, args] of Object.entries(COLUMNS)) {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', fileURLToPath(import.meta.url), '--one', args[0], path, spec, args[1] ?? ''],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      samples[column].push(JSON.parse(out.trim().split('\n').pop()));
    }
  }
  for (const [column, list] of Object.entries(samples))
    cells[column] = Object.fromEntries(['first', 'steady', 'held'].map((k) => [k, median(list.map((s) => s[k]))]));
  const mb = (x, digits = 0) => `${x.toFixed(digits)} MB`;
  const { edgeinfer, fixed, ort } = cells;
  rows.push(
    `| ${name} | ${mb(edgeinfer.first)} | ${mb(edgeinfer.steady)} | ${mb(edgeinfer.held, 1)} | ` +
      `${mb(fixed.steady)} | ${mb(fixed.held, 1)} | ${mb(ort.first)} | ${mb(ort.steady)} |`,
  );
}
console.log(`Resident memory growth of a fresh Node ${process.version} process (medians of ${runs})\n`);
console.log(
  '| model | edgeinfer, first | edgeinfer, steady | edgeinfer, held | fixed shapes, steady | fixed shapes, held | ' +
    'onnxruntime-web, first | onnxruntime-web, steady |',
);
console.log('|---|---|---|---|---|---|---|---|');
console.log(rows.join('\n'));
