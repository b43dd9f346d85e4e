// A closer look at batch-1 latency, edgeinfer against onnxruntime-web, for when the main
// benchmark's few long rounds are too coarse on a noisy machine: many short rounds that
// alternate between the two runtimes, and the median of each round pair's ratio, which
// drift in the machine's speed cancels out of.
//   node bench/batch1.mjs [--rounds N] [--ms MS]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir } from './paths.mjs';
import { RUNTIMES } from './runtimes.mjs';
import { FEEDS } from './feeds.mjs';
import { callsPerSecond, median, numberArg } from './timing.mjs';

const ROUNDS = numberArg('rounds', 40), MS = numberArg('ms', 150);
const [ours, theirs] = ['edgeinfer', 'onnxruntime-web'];

console.log('| batch 1 | edgeinfer µs | onnxruntime-web µs | edgeinfer / onnxruntime-web |');
console.log('|---|---|---|---|');
for (const [model, feedsKey] of [['mlp_tabular', 'mlp_b1'], ['encoder_block', 'encoder_s16']]) {
  const bytes = new Uint8Array(readFileSync(join(corpusDir(), `${model}.onnx`)));
  const side = {};
  for (const name of [ours, theirs]) {
    const rt = await RUNTIMES[name]();
    const session = await rt.load(bytes);
    const feeds = FEEDS[feedsKey]();
    for (let i = 0; i < 2000; i++) await rt.predict(session, feeds);
    side[name] = { rt, session, feeds, us: [] };
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of [ours, theirs]) {
      const s = side[name];
      s.us.push(1e6 / (await callsPerSecond(() => s.rt.predict(s.session, s.feeds), MS)));
    }
  }
  const ratio = median(side[ours].us.map((u, i) => u / side[theirs].us[i]));
  console.log(`| ${model} | ${median(side[ours].us).toFixed(2)} | ${median(side[theirs].us).toFixed(2)} | ${ratio.toFixed(3)} |`);
}
console.log(`\nNode ${process.version}; ${ROUNDS} alternating rounds of ${MS} ms; the ratio is the median of the rounds' ratios (below 1: edgeinfer faster).`);
