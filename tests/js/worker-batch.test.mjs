// Batch jobs on Cloudflare, in real workerd with wrangler's local R2 and Queues: a project
// scaffolded by `edgeinfer worker --batch`, a 100,000-row table put in its bucket, a job
// submitted over HTTP and scored by the Worker's own queue consumer. Its output must equal
// `edgeinfer batch` on the same file, byte for byte, although one chunk fails once after
// writing its output (the queue retries it); a table whose chunks always fail ends in the
// dead-letter queue and the job reports them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { packageDir, root, runCli } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';

const dir = join(root, '.cache/worker-batch');
const files = join(root, '.cache/worker-batch-files');
const BUCKET = 'edgeinfer-iris-batch';
const KEYS = {
  batch: 'bk-batch-0123456789abcdef',
  other: 'bk-other-0123456789abcdef',
  predict: 'pk-predict-0123456789ab',
};
const ROWS = 100000;
const BAD = new Set([2, 45678, 99999]);
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  CI: '1',
  PATH: `${join(root, 'node_modules/.bin')}${delimiter}${process.env.PATH}`,
};
let server, base;

/** Iris-like rows, a few of them unreadable. */
function table(n) {
  const lines = ['id,sepal_length,sepal_width,petal_length,petal_width'];
  for (let i = 0; i < n; i++) {
    const f = [4.3 + ((i * 7) % 36) / 10, 2 + ((i * 3) % 24) / 10, 1 + ((i * 11) % 59) / 10, 0.1 + ((i * 5) % 25) / 10];
    lines.push([`r${i}`, ...f.map((v, j) => (BAD.has(i) && j === 1 ? 'oops' : v.toFixed(1)))].join(','));
  }
  return `${lines.join('\n')}\n`;
}

// The test's Worker wraps the bucket its queue consumer sees, to fail on purpose: the first
// time chunk 3 of a job is marked done (its output already written), and every read of a
// chunk past the first of poison.csv.
const FAULTS = `
const injected = new Set();
function faulty(env) {
  const bucket = env.BATCH;
  const wrapped = new Proxy(bucket, {
    get(target, p) {
      if (p === 'put')
        return async (key, ...rest) => {
          if (/\\/done\\/000003$/.test(key) && !injected.has(key)) {
            injected.add(key);
            throw new Error('injected failure after the output was written');
          }
          return target.put(key, ...rest);
        };
      if (p === 'get')
        return async (key, options) => {
          if (key === 'poison.csv' && options?.range?.length !== undefined && options.range.offset > 200)
            throw new Error('injected failure reading poison.csv');
          return target.get(key, options);
        };
      const v = Reflect.get(target, p);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { ...env, BATCH: wrapped };
}
export default { fetch: (r, e, c) => handler.fetch(r, e, c), queue: (b, e, c) => handler.queue(b, faulty(e), c) };
`;

const wrangler = (...args) => execFileSync('wrangler', args, { cwd: dir, env, stdio: 'pipe' });

before(async () => {
  for (const d of [dir, files]) rmSync(d, { recursive: true, force: true });
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, 'input.csv'), table(ROWS));
  writeFileSync(join(files, 'poison.csv'), table(30));
  writeFileSync(join(files, 'narrow.csv'), 'a,b,c\n1,2,3\n');
  runCli(root, 'worker', join(root, 'examples/iris.onnx'), '--batch', '-o', dir);
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(packageDir, join(dir, 'node_modules/edgeinfer'));
  writeFileSync(
    join(dir, '.dev.vars'),
    `API_KEYS='${JSON.stringify([
      { name: 'analyst', key: KEYS.batch, scopes: ['batch'] },
      { name: 'other', key: KEYS.other, scopes: ['batch'] },
      { name: 'web', key: KEYS.predict, scopes: ['predict'] },
    ])}'\n`,
  );
  const index = join(dir, 'src/index.js');
  const source = readFileSync(index, 'utf8');
  assert.match(source, /^export default createHandler\(/m);
  writeFileSync(index, source.replace(/^export default createHandler\(/m, 'const handler = createHandler(') + FAULTS);
  for (const name of ['input.csv', 'poison.csv', 'narrow.csv'])
    wrangler('r2', 'object', 'put', `${BUCKET}/${name}`, '--file', join(files, name), '--local');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = start('wrangler', ['dev', '--ip', '127.0.0.1', '--port', String(port)], { cwd: dir, env });
  await waitFor(`${base}/v2/health/live`, server);
});

after(() => server?.stop());

const call = (path, { key = KEYS.batch, body } = {}) =>
  fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(key && { authorization: `Bearer ${key}` }), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function until(id, done, seconds = 240) {
  const stop = Date.now() + seconds * 1000;
  for (;;) {
    const r = await call(`/v2/batch/jobs/${id}`);
    assert.equal(r.status, 200);
    const job = await r.json();
    if (done(job)) return job;
    if (Date.now() > stop) throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const text = async (path) => {
  const r = await call(path);
  assert.equal(r.status, 200, path);
  return r.text();
};
const withoutFirstLine = (s) => s.slice(s.indexOf('\n') + 1);

test('the scaffold binds the bucket, the queue and its dead-letter queue', () => {
  const toml = readFileSync(join(dir, 'wrangler.toml'), 'utf8');
  assert.match(toml, /BATCH_DEAD_LETTER_QUEUE = "edgeinfer-iris-batch-failed"/);
  assert.match(toml, /\[\[r2_buckets\]\]\nbinding = "BATCH"\nbucket_name = "edgeinfer-iris-batch"/);
  assert.match(
    toml,
    /\[\[queues\.consumers\]\]\nqueue = "edgeinfer-iris-batch"\n[^[]*dead_letter_queue = "edgeinfer-iris-batch-failed"/,
  );
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  assert.match(pkg.scripts['create-batch'], /wrangler queues create edgeinfer-iris-batch-failed/);
});

test('a 100,000-row job gives what edgeinfer batch gives, a chunk retried without duplicates', async (t) => {
  const started = performance.now();
  const r = await call('/v2/batch/jobs', { body: { model: 'iris', input: 'input.csv', keep: ['id'] } });
  assert.equal(r.status, 202, await r.clone().text());
  const submitted = await r.json();
  assert.equal(r.headers.get('location'), `/v2/batch/jobs/${submitted.id}`);
  assert.match(submitted.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(submitted.chunks.total, 10);
  assert.equal(submitted.model_version, '1');
  const submittedIn = performance.now() - started;
  const job = await until(submitted.id, (j) => j.status !== 'running');
  assert.equal(job.status, 'completed', JSON.stringify(job));
  t.diagnostic(
    `submitted in ${submittedIn.toFixed(0)} ms, completed in ${(performance.now() - started).toFixed(0)} ms`,
  );
  assert.deepEqual([job.rows, job.rejected], [ROWS - BAD.size, BAD.size]);

  const manifest = JSON.parse(await text(`/v2/batch/jobs/${job.id}/manifest.json`));
  assert.equal(manifest.parts.length, 10);
  assert.equal(manifest.parts[3].attempts, 2, 'chunk 3 failed once and was retried');
  assert.ok(manifest.parts.every((p, i) => i === 3 || p.attempts === 1));
  assert.match(server.output(), new RegExp(`batch job ${job.id} chunk 3 failed \\(attempt 1\\): injected failure`));
  let output = '';
  let rejects = '';
  for (const [i, p] of manifest.parts.entries()) {
    const part = await text(`/v2/batch/jobs/${job.id}/${p.output.slice(`jobs/${job.id}/`.length)}`);
    output += i === 0 ? part : withoutFirstLine(part);
    if (p.rejects)
      rejects += withoutFirstLine(
        await text(`/v2/batch/jobs/${job.id}/rejects/part-${String(i).padStart(6, '0')}.csv`),
      );
  }

  // The same file through the command line, in a Node that runs the same (relaxed-SIMD) build.
  const local = spawnSync(process.execPath, [
    '--experimental-wasm-relaxed-simd',
    join(packageDir, 'js/cli.js'),
    'batch',
    join(root, 'examples/iris.onnx'),
    '--input',
    join(files, 'input.csv'),
    '--output',
    join(files, 'local.csv'),
    '--keep',
    'id',
    // The Worker's chunks: a row's float32 results may differ in the last bits with its
    // place in a batch (the kernels take a batch's last rows in a narrower tile).
    '--batch-size',
    '10000',
    '--quiet',
  ]);
  assert.equal(local.status, 3, `rows were rejected: ${local.stderr}`);
  assert.equal(output.split('\n').length, ROWS - BAD.size + 2);
  assert.equal(output, readFileSync(join(files, 'local.csv'), 'utf8'));
  assert.equal(rejects, withoutFirstLine(readFileSync(join(files, 'local.csv.rejects.csv'), 'utf8')));
  // Lines of the file: the header is line 1.
  assert.deepEqual(
    rejects
      .trim()
      .split('\n')
      .map((l) => Number(l.split(',')[0])),
    [...BAD].map((i) => i + 2),
  );
});

test('a chunk that fails every retry reaches the dead-letter queue, and the job says so', async () => {
  const r = await call('/v2/batch/jobs', { body: { model: 'iris', input: 'poison.csv', rows_per_chunk: 10 } });
  assert.equal(r.status, 202);
  const { id, chunks } = await r.json();
  assert.equal(chunks.total, 3);
  const job = await until(id, (j) => j.chunks.done + j.chunks.failed === 3);
  assert.equal(job.status, 'failed');
  assert.equal(job.chunks.done, 1);
  assert.deepEqual(
    job.failures.map((f) => [f.chunk, f.lines, f.attempts]),
    [
      [1, [12, 21], 4],
      [2, [22, null], 4],
    ],
  );
  for (const f of job.failures) assert.match(f.error, /injected failure reading poison.csv/);
  assert.equal((await call(`/v2/batch/jobs/${id}/manifest.json`)).status, 404);
});

test('bad submissions are refused, naming what is wrong, and nothing is queued', async () => {
  const cases = [
    [{ key: null }, { model: 'iris', input: 'input.csv' }, 401, /credentials|authorization/i],
    [{ key: KEYS.predict }, { model: 'iris', input: 'input.csv' }, 403, /batch/],
    [{}, { model: 'nope', input: 'input.csv' }, 404, /unknown model 'nope'/],
    [{}, { model: 'iris', version: '9', input: 'input.csv' }, 404, /no version '9'/],
    [{}, { model: 'iris', input: 'missing.csv' }, 404, /no object 'missing.csv'/],
    [{}, { model: 'iris', input: 'narrow.csv' }, 422, /E_INPUT_MISSING: narrow.csv: .*no column 'sepal_length'/],
    [{}, { model: 'iris', input: 'input.csv', keep: ['nope'] }, 422, /E_INPUT_MISSING: .*no column 'nope'/],
    [{}, { model: 'iris', input: 'input.txt' }, 400, /cannot tell the format of 'input.txt'/],
    [{}, { model: 'iris', input: 'input.csv', rows_per_chunk: 0 }, 400, /rows_per_chunk/],
    [{}, { model: 'iris', input: 'input.csv', colour: 'red' }, 400, /unknown field colour/],
    [{}, { model: 'iris' }, 400, /'input' must be the key/],
    [{}, [1, 2], 400, /a batch job is a JSON object/],
  ];
  for (const [who, body, status, message] of cases) {
    const r = await call('/v2/batch/jobs', { ...who, body });
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match((await r.json()).error, message, JSON.stringify(body));
  }
});

test("a job is its submitter's: others, and unknown ids, get 404", async () => {
  const r = await call('/v2/batch/jobs', {
    body: { model: 'iris', input: 'narrow.csv', features: ['a', 'b', 'c', 'a'] },
  });
  assert.equal(r.status, 202, await r.clone().text());
  const { id } = await r.json();
  assert.equal((await call(`/v2/batch/jobs/${id}`, { key: KEYS.other })).status, 404);
  assert.equal((await call(`/v2/batch/jobs/${id}`)).status, 200);
  assert.equal((await call(`/v2/batch/jobs/${id}/job.json`)).status, 404);
  assert.equal((await call(`/v2/batch/jobs/${id}/../input.csv`)).status, 404);
  assert.equal((await call('/v2/batch/jobs/00000000-0000-4000-8000-000000000000')).status, 404);
  assert.equal((await call('/v2/batch/jobs/nope')).status, 404);
  const done = await until(id, (j) => j.status !== 'running');
  assert.equal(done.status, 'completed');
  assert.equal(done.rows, 1);
});
