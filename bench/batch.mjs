// Batch scoring against its anchor, side by side in one run: `edgeinfer batch` on 1 and 2
// threads, and Python onnxruntime + pandas (bench/batch_ort.py, one thread), on the same CSV
// (an id and 30 features) and scikit-learn pipeline (scripts/make_batch_model.py). Rounds
// alternate between them; medians of the wall time and of the peak resident memory of each
// process. The labels are checked equal row for row.
//   node bench/batch.mjs [--rows N] [--rounds R]
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './paths.mjs';
import { median, numberArg } from './timing.mjs';

const rows = numberArg('rows', 200000);
const rounds = numberArg('rounds', 3);
const python = join(root, '.cache/venv/bin/python');
execFileSync(python, [join(root, 'scripts/make_batch_model.py'), String(rows)], { stdio: 'inherit' });
const model = join(root, '.cache/bench/batch_logreg.onnx');
const input = join(root, `.cache/bench/batch_${rows}.csv`);
const out = (name) => join(root, `.cache/bench/batch_${rows}.${name}.csv`);

const RUNNERS = {
  'python onnxruntime + pandas': () => {
    const r = spawnSync(python, [join(root, 'bench/batch_ort.py'), model, input, out('ort')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  },
  ...Object.fromEntries(
    [1, 2].map((threads) => [
      `edgeinfer batch, ${threads} thread${threads > 1 ? 's' : ''}`,
      () => {
        const started = performance.now();
        const args = ['--import', join(root, 'bench/batch-rss.mjs'), join(root, 'js/cli.js'), 'batch', model];
        args.push('-i', input, '-o', out(`t${threads}`), '--keep', 'id', '--threads', String(threads), '--quiet');
        const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(r.stderr);
        return {
          seconds: (performance.now() - started) / 1000,
          peakMB: Number(r.stderr.match(/peak-rss-mb ([\d.]+)/)[1]),
        };
      },
    ]),
  ),
};

const samples = Object.fromEntries(Object.keys(RUNNERS).map((k) => [k, []]));
for (let round = 0; round < rounds; round++)
  for (const [name, run] of Object.entries(RUNNERS)) samples[name].push(run());

const labels = (file) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[1]);
const anchor = labels(out('ort'));
for (const threads of [1, 2]) {
  const ours = labels(out(`t${threads}`));
  const differ = ours.filter((l, i) => l !== anchor[i]).length;
  if (ours.length !== anchor.length || differ)
    throw new Error(`${threads} threads: ${differ} labels differ from onnxruntime's`);
}

const base = median(samples['python onnxruntime + pandas'].map((s) => s.seconds));
console.log(
  `\n${rows.toLocaleString('en')} rows x 30 features, medians of ${rounds} alternating rounds; labels equal onnxruntime's row for row\n`,
);
console.log('| tool | time | vs python | peak memory |');
console.log('|---|---|---|---|');
for (const [name, list] of Object.entries(samples)) {
  const seconds = median(list.map((s) => s.seconds));
  console.log(
    `| ${name} | ${seconds.toFixed(2)} s | ${(seconds / base).toFixed(2)}x | ${median(list.map((s) => s.peakMB)).toFixed(0)} MB |`,
  );
}
