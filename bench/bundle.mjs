// `npm run bench:bundle`: cold start of a bundle (`edgeinfer build`, which stores the loaded
// model's memory) against loading the raw ONNX with the runtime, from import to first
// prediction, each in fresh Node processes; for encoder_block and a CNN of a few MB. A bundle
// built with --no-snapshot (ONNX only) is measured too, with each file's size.
//   node bench/bundle.mjs [--cold N]
import { execFileSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
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
const build = (m, dir, ...flags) => {
  execFileSync(process.execPath, [join(root, 'js/cli.js'), 'build', m.path, '--name', m.name, '--version', '1', ...flags, '-o', dir], { stdio: 'pipe' });
  return join(dir, `${m.name}.js`);
};
const mb = (path) => `${(statSync(path).size / 1e6).toFixed(1)} MB`;
console.log('| model | raw ONNX | bundle | speed-up | bundle without snapshot | its speed-up | bundle size (without snapshot) |');
console.log('|---|---|---|---|---|---|---|');
for (const m of models) {
  const withSnapshot = build(m, join(out, 'snapshot'));
  const withoutSnapshot = build(m, join(out, 'onnx'), '--no-snapshot');
  const raw = [], bundled = [], plain = [];
  for (let k = 0; k < COLD; k++) {
    raw.push(run([join(root, 'bench/cold.mjs'), 'edgeinfer', m.path, m.feeds]));
    bundled.push(run([join(root, 'bench/cold-bundle.mjs'), withSnapshot, m.feeds]));
    plain.push(run([join(root, 'bench/cold-bundle.mjs'), withoutSnapshot, m.feeds]));
  }
  const [r, b, p] = [median(raw), median(bundled), median(plain)];
  const size = `${mb(withSnapshot.replace(/js$/, 'wasm'))} (${mb(withoutSnapshot.replace(/js$/, 'wasm'))})`;
  console.log(`| ${m.name} | ${r.toFixed(1)} ms | ${b.toFixed(1)} ms | ${(r / b).toFixed(2)}x | ${p.toFixed(1)} ms | ${(r / p).toFixed(2)}x | ${size} |`);
}
console.log(`\nImport to first prediction, median of ${COLD} fresh Node ${process.version} processes each.`);
