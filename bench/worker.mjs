// `npm run bench:worker`: a Worker scaffolded by `edgeinfer worker` for mlp_tabular,
// recommender_topk and iris (a scikit-learn classifier), run in wrangler dev on 127.0.0.1 and
// loaded with autocannon at each concurrency; plus the isolate's cold start (first request to
// first answer). `npm run bench:load` is the load and soak test: 16, 32 and 64
// connections for 60 s each, then --soak N requests in a row on mlp_tabular with workerd's
// resident memory sampled every second after a warm-up of a tenth as many.
//   node bench/worker.mjs [--seconds S] [--connections 1,16,64] [--soak N]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { corpusDir, root } from './paths.mjs';
import { freePort, start } from '../tests/js/processes.mjs';

const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(flag('--seconds', 5));
const CONNECTIONS = flag('--connections', '1,16,64').split(',').map(Number);
const SOAK = Number(flag('--soak', 0));
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
    join(root, 'examples/iris.onnx'),
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
  iris: { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] },
};
const request = (model) => ({
  url: `${base}/v2/models/${model}/infer`,
  method: 'POST',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify(bodies[model]),
});

/** The resident memory of the workerd processes wrangler started (its process group), in bytes. */
function workerdRss(group) {
  let bytes = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [comm, rest] = [
        stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        stat.slice(stat.lastIndexOf(')') + 2),
      ];
      if (comm !== 'workerd' || Number(rest.split(' ')[2]) !== group) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      bytes += Number(rss[1]) * 1024;
    } catch {
      /* gone meanwhile */
    }
  }
  return bytes;
}

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
    for (const connections of CONNECTIONS) {
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
  if (SOAK > 0) await soak();
} finally {
  server.stop();
}

/**
 * SOAK requests in a row on mlp_tabular at 16 connections, after a warm-up of a tenth as
 * many, with workerd's resident memory sampled every second: it must stay within 10% of
 * its first sample.
 */
async function soak() {
  const MiB = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const warm = await autocannon({ ...request('mlp_tabular'), connections: 16, amount: Math.ceil(SOAK / 10) });
  const samples = [workerdRss(server.child.pid)];
  const timer = setInterval(() => samples.push(workerdRss(server.child.pid)), 1000);
  const run = await autocannon({ ...request('mlp_tabular'), connections: 16, amount: SOAK });
  clearInterval(timer);
  samples.push(workerdRss(server.child.pid));
  const [first, last] = [samples[0], samples.at(-1)];
  const [low, high] = [Math.min(...samples), Math.max(...samples)];
  const drift = Math.max(high - first, first - low) / first;
  console.log(
    `\nSoak: ${warm.requests.total.toLocaleString('en-US')} requests of warm-up, then ${run.requests.total.toLocaleString('en-US')} on mlp_tabular at 16 connections in ${(run.duration ?? 0).toFixed(0)} s ` +
      `(${Math.round(run.requests.average).toLocaleString('en-US')}/s, p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, errors ${run.errors + run.non2xx + warm.errors + warm.non2xx}).`,
  );
  console.log(
    `workerd resident memory, ${samples.length} samples: first ${MiB(first)}, last ${MiB(last)}, min ${MiB(low)}, max ${MiB(high)}: ` +
      `${(drift * 100).toFixed(1)}% from the first at most, ${drift <= 0.1 ? 'within' : 'OUTSIDE'} 10%.`,
  );
}
