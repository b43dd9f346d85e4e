// The relaxed-SIMD build of the core against the simd128 one: warm batch-1 latency on the
// CNNs and the text encoder, in one Node process started with relaxed SIMD on (Node 20 keeps
// it behind a flag), in alternating rounds; the median of each round pair's ratio.
//   node bench/simd.mjs [--only squeezenet,minilm,...] [--rounds N] [--ms MS]
// Each build runs in a realm of its own (bench/realm.mjs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODELS } from './models.mjs';
import { packageRealm } from './realm.mjs';
import { feeds as feedsOf } from './feeds.mjs';
import { abRounds, listArg, numberArg } from './timing.mjs';
import { hasRelaxedSimd } from '../js/variant.js';

if (!hasRelaxedSimd()) {
  execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(0);
}

const ROUNDS = numberArg('rounds', 15),
  MS = numberArg('ms', 250);
const chosen = listArg('only') ?? ['squeezenet', 'shufflenet', 'inception_v2', 'resnet50', 'densenet121', 'minilm'];
/** The package's API in a realm of its own, started as `simd` on one thread. */
const build = async (simd, dir) => (await packageRealm(dir, { simd, threads: 1 })).api;

const scratch = mkdtempSync(join(tmpdir(), 'edgeinfer-simd-'));
try {
  const builds = {
    simd128: await build('simd128', join(scratch, 'simd128')),
    'relaxed-simd': await build('relaxed-simd', join(scratch, 'relaxed')),
  };
  const rows = [];
  for (const name of chosen) {
    const bytes = new Uint8Array(readFileSync(MODELS[name].path()));
    const models = await Promise.all(Object.values(builds).map((api) => api.Model.load(bytes)));
    const r = await abRounds(models, feedsOf(MODELS[name].feeds), ROUNDS, MS);
    rows.push([name, r.a.toFixed(2), r.b.toFixed(2), r.ratio.toFixed(3)]);
    console.error(`simd ${rows.at(-1).join(' ')}`);
  }
  console.log('| model | simd128, ms | relaxed SIMD, ms | relaxed / simd128 |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `\nNode ${process.version} with --experimental-wasm-relaxed-simd; batch 1, 1 thread; ${ROUNDS} alternating rounds of ${MS} ms, medians.`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
