// What monitoring costs: mlp_tabular at batch 1 (the smallest prediction, where a fixed cost
// per call shows most) with monitoring off, on as loaded by default (metrics, ids, the
// feedback ring, prediction drift), on with a reference (drift of all 32 features), with an
// input guard clipping against that reference too, and with the reference and prediction
// logs sampled at 1% into the buffer. Many short rounds alternate between the
// variants, and the overhead is the median of each round's ratio to the round's "off", so
// that load from other work on the machine falls on all of them alike.
//   node bench/monitoring.mjs [--rounds N] [--seconds S]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusDir, root } from './paths.mjs';
import { FEEDS } from './feeds.mjs';
import { callsPerSecond, median, numberArg } from './timing.mjs';

export async function monitoringOverhead({ rounds = 30, seconds = 0.2 } = {}) {
  const { Model } = await import(pathToFileURL(join(root, 'js/node.js')).href);
  const bytes = new Uint8Array(readFileSync(join(corpusDir(), 'mlp_tabular.onnx')));
  const probe = await Model.load(bytes);
  const sample = FEEDS.mlp_b256();
  const reference = await probe.buildReference({ x: { data: sample.x.data, shape: [256, 32] } });
  const variants = {
    'monitoring off': { monitoring: false },
    'monitoring on (default)': {},
    'on, with a reference': { reference },
    'on, with a reference and a guard (clip)': { reference, guard: 'clip' },
    'on, with a reference and logs at 1%': { reference, monitoring: { log: { sampleRate: 0.01 } } },
  };
  const models = {};
  const feeds = FEEDS.mlp_b1();
  for (const [name, options] of Object.entries(variants)) {
    models[name] = await Model.load(bytes, options);
    for (let i = 0; i < 200; i++) await models[name].predict(feeds);
  }
  const rates = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, m] of Object.entries(models)) {
      let n = 0;
      // Drains the log buffer every 1000 predictions, as a deployment would.
      const step = () => {
        if (++n % 1000 === 0) m.takeLogs();
        return m.predict(feeds);
      };
      (rates[name] ??= []).push(await callsPerSecond(step, seconds * 1000));
    }
  }
  const off = rates['monitoring off'];
  return Object.entries(rates).map(([name, r]) => {
    const rate = median(r);
    return { name, rate, us: 1e6 / rate, overhead: median(r.map((x, i) => off[i] / x - 1)) };
  });
}

export function monitoringTable(rows) {
  const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const out = ['| mlp_tabular, batch 1 | predictions/s | µs each | overhead |', '|---|---|---|---|'];
  for (const r of rows)
    out.push(
      `| ${r.name} | ${fmt(r.rate)} | ${fmt(r.us, 2)} | ${r.overhead === 0 ? '' : `${r.overhead > 0 ? '+' : ''}${fmt(r.overhead * 100, 1)}%`} |`,
    );
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [rounds, seconds] = [numberArg('rounds', 30), numberArg('seconds', 0.2)];
  const rows = await monitoringOverhead({ rounds, seconds });
  console.log(monitoringTable(rows));
  console.log(`\nNode ${process.version}, ${rounds} alternating rounds of ${seconds} s, medians.`);
}
