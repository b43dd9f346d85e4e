// A/B of two builds of the package on one model, in one Node process: rounds alternate
// between them and the answer is the median of each round's B/A ratio, so a noisy machine's
// slow spells fall on both. How docs/engine.md's build comparisons were measured.
//   node bench/ab.mjs A_DIR B_DIR MODEL FEEDS [--rounds N] [--ms MS]
// A_DIR and B_DIR are package directories (a checkout with dist/ built, or a copy of one);
// FEEDS is a bench/feeds.mjs spec such as `image224:data_0` or `mlp_b1`.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { feeds as feedsOf } from './feeds.mjs';
import { abRounds, numberArg } from './timing.mjs';

const [a, b, model, spec] = process.argv.slice(2);
if (!spec) {
  console.error('usage: node bench/ab.mjs A_DIR B_DIR MODEL FEEDS [--rounds N] [--ms MS]');
  process.exit(2);
}
const ROUNDS = numberArg('rounds', 15),
  MS = numberArg('ms', 300);
const bytes = new Uint8Array(readFileSync(model));
const models = [];
for (const dir of [a, b]) {
  const { Model } = await import(pathToFileURL(join(resolve(dir), 'js/node.js')).href);
  models.push(await Model.load(bytes));
}
const r = await abRounds(models, feedsOf(spec), ROUNDS, MS);
console.log(`A ${r.a.toFixed(3)} ms, B ${r.b.toFixed(3)} ms, B/A ${r.ratio.toFixed(3)}`);
