// `npm run bench:worker`: a Worker scaffolded by `edgeinfer worker` for mlp_tabular and
// recommender_topk, run in wrangler dev on 127.0.0.1 and loaded with autocannon at
// concurrency 1, 16 and 64; plus the isolate's cold start (first request to first answer).
//   node bench/worker.mjs [--seconds S]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { corpusDir, root } from './paths.mjs';
import { freePort, start } from '../tests/js/processes.mjs';

const i = process.argv.indexOf('--seconds');
const SECONDS = i > 0 ? Number(process.argv[i + 1]) : 5;
const KEY = 'bench-key-0123456789abcdef';
const dir = join(root, '.cache/worker-bench');

rmSync(dir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    join(root, 'js/cli.js'),
    'worker',
    join(corpusDir(), 'mlp_tabular.onnx'),
    join(corpusDir(), 'recommender_topk.onnx'),
    '-o',
    dir,
  ],
  { stdio: 'pipe' },
);
mkdirSync(join(dir, 'node_modules'));
symlinkSync(root, join(dir, 'node_modules/edgeinfer'));
writeFileSync(
  join(dir, '.dev.vars'),
  `API_KEYS='${JSON.stringify([{ name: 'bench', key: KEY, scopes: ['predict'] }])}'\n`,
);

const bodies = {
  mlp_tabular: {
    inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: Array.from({ length: 32 }, (_, j) => Math.sin(j)) }],
  },
  recommender_topk: { inputs: [{ name: 'liked', shape: [1, 3], datatype: 'INT64', data: [3, 17, 42] }] },
};
const request = (model) => ({
  url: `${base}/v2/models/${model}/infer`,
  method: 'POST',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify(bodies[model]),
});

/** Resolves once the port accepts TCP connections, without sending a request. */
async function listening(port, server) {
  for (let t = 0; t < 600; t++) {
    if (server.child.exitCode !== null) throw new Error(`wrangler exited:\n${server.output()}`);
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('wrangler dev did not listen');
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = start(
  join(root, 'node_modules/.bin/wrangler'),
  ['dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'],
  {
    cwd: dir,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
  },
);
try {
  await listening(port, server);
  const r = request('mlp_tabular');
  const t0 = performance.now();
  const first = await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body });
  await first.text();
  const coldMs = performance.now() - t0;
  if (first.status !== 200) throw new Error(`first request: ${first.status}`);
  const t1 = performance.now();
  await (await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body })).text();
  const warmMs = performance.now() - t1;

  console.log(`| model | connections | requests/s | p50 latency | p99 latency | errors |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const model of Object.keys(bodies)) {
    for (const connections of [1, 16, 64]) {
      const result = await autocannon({ ...request(model), connections, duration: SECONDS });
      const errors = result.errors + result.non2xx;
      console.log(
        `| ${model} | ${connections} | ${Math.round(result.requests.average).toLocaleString('en-US')} | ${result.latency.p50} ms | ${result.latency.p99} ms | ${errors} |`,
      );
    }
  }
  console.log(
    `\nCold start (isolate start, module and model load, first prediction, over HTTP): ${coldMs.toFixed(1)} ms; the next request: ${warmMs.toFixed(1)} ms.`,
  );
  console.log(
    `wrangler dev on 127.0.0.1, Node ${process.version}, autocannon ${SECONDS} s per row, API-key auth on every request.`,
  );
} finally {
  server.stop();
}
