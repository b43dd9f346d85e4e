// What shadow traffic costs the requests it shadows: edgeinfer/server's handler (the code a
// Worker runs) serving mlp_tabular as versions 1 and 2, with a traffic policy that shadows
// none and one that shadows every request on version 2. Each round sends the same requests
// to both, `--concurrency` at a time (1: one after another, with idle moments between them;
// more: the isolate is never idle until the round ends); p50 and p99 of each request's
// latency, medians over the rounds, the p50 ratio per round, and the shadows that ran and
// were skipped (a shadow waits for a moment with no request in flight).
//   node bench/shadow.mjs [--rounds N] [--requests N] [--concurrency N]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusDir, root } from './paths.mjs';
import { median, numberArg } from './timing.mjs';

const ROUNDS = numberArg('rounds', 11),
  REQUESTS = numberArg('requests', 400),
  CONCURRENCY = numberArg('concurrency', 4);
const KEY = 'bench-key-0123456789abcdef';
const env = { API_KEYS: JSON.stringify([{ name: 'bench', key: KEY, scopes: ['predict', 'metrics'] }]) };

const { createHandler } = await import(pathToFileURL(join(root, 'js/server/index.js')).href);
const { Model } = await import(pathToFileURL(join(root, 'js/node.js')).href);
const bytes = readFileSync(join(corpusDir(), 'mlp_tabular.onnx'));
const handler = (shadow) =>
  createHandler({
    models: ['1', '2'].map((version) => ({ name: 'mlp_tabular', version, load: (o) => Model.load(bytes, o) })),
    traffic: { mlp_tabular: { production: '1', candidate: '2', shadow } },
  });
const body = JSON.stringify({
  inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: Array.from({ length: 32 }, (_, i) => i / 32) }],
});

/** Each request's milliseconds, `CONCURRENCY` in flight; the shadows are awaited after. */
async function round(h) {
  const pending = [];
  const ms = [];
  let sent = 0;
  const client = async () => {
    while (sent < REQUESTS) {
      sent++;
      const started = performance.now();
      const r = await h.fetch(
        new Request('http://bench.test/v2/models/mlp_tabular/infer', {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body,
        }),
        env,
        { waitUntil: (p) => pending.push(p) },
      );
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      ms.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  await Promise.all(pending);
  return ms.sort((a, b) => a - b);
}

const sides = { 'shadow 0%': handler(0), 'shadow 100%': handler(100) };
const shadowed = sides['shadow 100%'];
for (const h of Object.values(sides)) await round(h); // loads and warms both versions
const results = Object.fromEntries(Object.keys(sides).map((k) => [k, { p50: [], p99: [] }]));
const ratios = [];
for (let r = 0; r < ROUNDS; r++) {
  const p50 = {};
  for (const [name, h] of Object.entries(sides)) {
    const ms = await round(h);
    p50[name] = ms[ms.length >> 1];
    results[name].p50.push(p50[name]);
    results[name].p99.push(ms[Math.floor(ms.length * 0.99)]);
  }
  ratios.push(p50['shadow 100%'] / p50['shadow 0%']);
}
console.log('| policy | p50 ms | p99 ms |\n|---|---|---|');
for (const [name, r] of Object.entries(results))
  console.log(`| ${name} | ${median(r.p50).toFixed(3)} | ${median(r.p99).toFixed(3)} |`);
const report = await shadowed.fetch(
  new Request('http://bench.test/v2/models/mlp_tabular/compare', { headers: { authorization: `Bearer ${KEY}` } }),
  env,
);
const [pair] = (await report.json()).shadows;
console.log(`\nshadows run: ${pair.requests}, skipped: ${pair.skipped}, of ${(ROUNDS + 1) * REQUESTS} requests`);
console.log(
  `p50 with every request shadowed ÷ none: ${median(ratios).toFixed(3)} (median of ${ROUNDS} rounds of ${REQUESTS} requests, ${CONCURRENCY} in flight; Node ${process.version})`,
);
