// The threads build, in one Node process, in alternating rounds (medians of each round
// pair's ratio), batch 1, warm:
// - on the larger models: 2 threads against 1 (the same instance, the model loaded twice),
//   and against onnxruntime-web on 2 threads;
// - on the small ones: the threads build on 1 thread against the unthreaded build, which is
//   what `threads: 'auto'` costs a model too small to split.
// Node 20 has the relaxed SIMD the threads build needs behind a flag: the script restarts
// with it.
//   node bench/threads.mjs [--only squeezenet,...] [--small mlp_tabular,...] [--rounds N] [--ms MS] [--threads N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODELS } from './models.mjs';
import { feeds as feedsOf } from './feeds.mjs';
import { packageRealm } from './realm.mjs';
import { RUNTIMES } from './runtimes.mjs';
import { abRounds, listArg, numberArg } from './timing.mjs';
import { hasRelaxedSimd } from '../js/variant.js';

if (!hasRelaxedSimd()) {
  execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(0);
}

const ROUNDS = numberArg('rounds', 11),
  MS = numberArg('ms', 400),
  THREADS = numberArg('threads', 2);
const large = listArg('only') ?? ['squeezenet', 'resnet50', 'inception_v2', 'shufflenet', 'minilm'];
const small = listArg('small') ?? ['mlp_tabular', 'recommender_topk', 'encoder_block', 'lstm', 'recommender'];

const scratch = mkdtempSync(join(tmpdir(), 'edgeinfer-threads-'));
try {
  const threaded = await packageRealm(join(scratch, 'threads'), { threads: THREADS });
  if (threaded.started.threads !== THREADS)
    throw new Error(`asked for ${THREADS} threads, started ${threaded.started.threads}`);
  const unthreaded = (await packageRealm(join(scratch, 'one'), { threads: 1 })).api;
  const ort = await RUNTIMES['onnxruntime-web']({ threads: THREADS });
  const read = (name) => [new Uint8Array(readFileSync(MODELS[name].path())), feedsOf(MODELS[name].feeds)];

  const rows = [];
  for (const name of large) {
    const [bytes, feeds] = read(name);
    const one = await threaded.api.Model.load(bytes, { threads: 1 });
    const many = await threaded.api.Model.load(bytes, { threads: THREADS });
    const session = await ort.load(bytes);
    const theirs = { predict: (f) => ort.predict(session, f) };
    const split = await abRounds([one, many], feeds, ROUNDS, MS);
    const against = await abRounds([theirs, many], feeds, ROUNDS, MS);
    const row = [split.a, split.b].map((ms) => ms.toFixed(2));
    rows.push([name, ...row, (1 / split.ratio).toFixed(2), against.a.toFixed(2), against.ratio.toFixed(3)]);
    console.error(`threads ${rows.at(-1).join(' ')}`);
    for (const m of [one, many]) m.dispose();
  }
  const smallRows = [];
  for (const name of small) {
    const [bytes, feeds] = read(name);
    const plain = await unthreaded.Model.load(bytes);
    const one = await threaded.api.Model.load(bytes, { threads: 1 });
    const r = await abRounds([plain, one], feeds, ROUNDS, MS);
    smallRows.push([name, r.a.toFixed(3), r.b.toFixed(3), r.ratio.toFixed(3)]);
    console.error(`threads ${smallRows.at(-1).join(' ')}`);
  }
  console.log(
    `| model | 1 thread, ms | ${THREADS} threads, ms | speed-up | onnxruntime-web, ${THREADS} threads, ms | edgeinfer / onnxruntime-web |\n|---|---|---|---|---|---|`,
  );
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    '\n| model | unthreaded build, ms | threads build, 1 thread, ms | threads build / unthreaded |\n|---|---|---|---|',
  );
  for (const r of smallRows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `\nNode ${process.version} with --experimental-wasm-relaxed-simd; batch 1; ${ROUNDS} alternating rounds of ${MS} ms, medians.`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
