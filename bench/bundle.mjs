// `npm run bench:bundle`: cold start of a bundle (`edgeinfer build`) against loading the
// raw ONNX with the runtime, from import to first prediction, each in
// fresh Node processes; for encoder_block and a CNN of a few MB.
//   node bench/bundle.mjs [--cold N]
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchModel, corpusDir, root } from './paths.mjs';
import { median, numberArg } from './timing.mjs';

const COLD = numberArg('cold', 7);
const out = join(root, '.cache/bench/bundles');

const models = [
  { name: 'encoder_block', path: join(corpusDir(), 'encoder_block.onnx'), feeds: 'encoder_s16' },
  { name: 'cnn', path: benchModel('cnn'), feeds: 'cnn_b1' },
];
rmSync(out, { recursive: true, force: true });
const run = (args) => JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })).totalMs;
console.log('| model | raw ONNX: import to first prediction | bundle: import to first prediction | speed-up |');
console.log('|---|---|---|---|');
for (const m of models) {
  execFileSync(process.execPath, [join(root, 'js/cli.js'), 'build', m.path, '--name', m.name, '--version', '1', '-o', out], { stdio: 'pipe' });
  const raw = [], bundled = [];
  for (let k = 0; k < COLD; k++) {
    raw.push(run([join(root, 'bench/cold.mjs'), 'edgeinfer', m.path, m.feeds]));
    bundled.push(run([join(root, 'bench/cold-bundle.mjs'), join(out, `${m.name}.js`), m.feeds]));
  }
  const [r, b] = [median(raw), median(bundled)];
  console.log(`| ${m.name} | ${r.toFixed(1)} ms | ${b.toFixed(1)} ms | ${(r / b).toFixed(2)}x |`);
}
console.log(`\nMedian of ${COLD} fresh Node ${process.version} processes each.`);
