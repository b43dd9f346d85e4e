// What a loaded model costs in memory: the resident-memory growth of a fresh Node process from
// before the runtime is imported to after the model's load and one prediction ("first"), and
// after ten more predictions with idle time between them, when edgeinfer has specialised its
// plan for the shape ("steady"). The model file's bytes are read after the baseline and kept,
// as a Worker keeps the models it imports. Medians of --runs fresh processes per cell.
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
  const [runtime, path, spec] = process.argv.slice(3);
  const feeds = feedsOf(spec);
  const before = rss();
  const bytes = new Uint8Array(readFileSync(path));
  const rt = await RUNTIMES[runtime]();
  const model = await rt.load(bytes);
  await rt.predict(model, feeds);
  const first = rss() - before;
  for (let i = 0; i < 10; i++) {
    await rt.predict(model, feeds);
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(JSON.stringify({ first: first / MB, steady: (rss() - before) / MB }));
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
  for (const runtime of Object.keys(RUNTIMES)) {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', fileURLToPath(import.meta.url), '--one', runtime, path, spec],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      samples.push(JSON.parse(out.trim().split('\n').pop()));
    }
    cells[runtime] = {
      first: median(samples.map((s) => s.first)),
      steady: median(samples.map((s) => s.steady)),
    };
  }
  rows.push(
    `| ${name} | ${cells.edgeinfer.first.toFixed(0)} MB | ${cells.edgeinfer.steady.toFixed(0)} MB | ` +
      `${cells['onnxruntime-web'].first.toFixed(0)} MB | ${cells['onnxruntime-web'].steady.toFixed(0)} MB |`,
  );
}
console.log(`Resident memory growth of a fresh Node ${process.version} process (medians of ${runs})\n`);
console.log('| model | edgeinfer, first | edgeinfer, steady | onnxruntime-web, first | onnxruntime-web, steady |');
console.log('|---|---|---|---|---|');
console.log(rows.join('\n'));
