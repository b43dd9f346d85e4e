// Part of `npm run bench` (after bench/engine.mjs, which covers latency, new shapes and cold
// starts): edgeinfer against onnxruntime-web (wasm backend, one thread), side by side in one
// run, in Node: the wasm's size, throughput at large batches and a 500-tree GBDT
// (scripts/make_bench_models.py), then what edgeinfer's monitoring costs. Prints markdown
// tables for the README.
//   node bench/bench.mjs [--rounds N] [--seconds S]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { benchModel, corpusDir, root } from './paths.mjs';
import { RUNTIMES } from './runtimes.mjs';
import { FEEDS } from './feeds.mjs';
import { monitoringOverhead, monitoringTable } from './monitoring.mjs';
import { callsPerSecond, median, numberArg } from './timing.mjs';

const ROUNDS = numberArg('rounds', 3),
  SECONDS = numberArg('seconds', 1);
const NAMES = Object.keys(RUNTIMES);
const model = (name) => (name === 'gbdt' ? benchModel(name) : join(corpusDir(), `${name}.onnx`));

function wasmSizes() {
  const require = createRequire(join(root, 'package.json'));
  const ortWasm = join(require.resolve('onnxruntime-web').replace(/[^/]+$/, ''), 'ort-wasm-simd-threaded.wasm');
  const size = (f) => {
    const b = readFileSync(f);
    return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length };
  };
  return {
    edgeinfer: size(join(root, 'dist/edgeinfer_bg.wasm')),
    relaxed: size(join(root, 'dist/edgeinfer_relaxed_bg.wasm')),
    'onnxruntime-web': size(ortWasm),
  };
}

async function throughput(workloads) {
  const rts = {};
  for (const name of NAMES) rts[name] = await RUNTIMES[name]();
  const sessions = {};
  for (const [key, w] of Object.entries(workloads)) {
    const bytes = new Uint8Array(readFileSync(model(w.model)));
    for (const name of NAMES) {
      const s = await rts[name].load(bytes);
      const feeds = FEEDS[w.feeds]();
      for (let i = 0; i < 20; i++) await rts[name].predict(s, feeds); // warm up
      sessions[`${key}/${name}`] = { s, feeds };
    }
  }
  const rates = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const key of Object.keys(workloads)) {
      for (const name of NAMES) {
        const { s, feeds } = sessions[`${key}/${name}`];
        (rates[`${key}/${name}`] ??= []).push(
          await callsPerSecond(() => rts[name].predict(s, feeds), SECONDS * 1000, 10),
        );
      }
    }
  }
  return Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
}

const fmt = (x, digits = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (b) => `${fmt(b / 1e6, 2)} MB`;

const sizes = wasmSizes();
const workloads = {
  'mlp_tabular, batch 256': { model: 'mlp_tabular', feeds: 'mlp_b256', batch: 256 },
  'GBDT 500 trees x depth 8, batch 1': { model: 'gbdt', feeds: 'gbdt_b1' },
  'GBDT 500 trees x depth 8, batch 10,000': { model: 'gbdt', feeds: 'gbdt_b10000', batch: 10000 },
};
const rates = await throughput(workloads);

const rows = [
  ['wasm size, raw', ...NAMES.map((n) => mb(sizes[n].raw))],
  ['wasm size, gzip -9', ...NAMES.map((n) => mb(sizes[n].gzip))],
  ['relaxed-SIMD build, gzip -9', mb(sizes.relaxed.gzip), '—'],
  ...Object.keys(workloads).map((key) => [
    `${key}: predictions/s`,
    ...NAMES.map((n) => {
      const r = rates[`${key}/${n}`];
      const batch = workloads[key].batch ?? 1;
      return batch > 1
        ? `${fmt(r, r < 100 ? 1 : 0)} (${fmt(r * batch)} rows/s)`
        : `${fmt(r)} (${fmt(1000 / r, 3)} ms each)`;
    }),
  ]),
];
console.log(`| | ${NAMES.join(' | ')} |`);
console.log(`|---|${NAMES.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(
  `\nNode ${process.version}, ${ROUNDS} rounds of ${SECONDS} s, median; onnxruntime-web ${JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version} (wasm, 1 thread).`,
);

console.log(`\n${monitoringTable(await monitoringOverhead())}`);
