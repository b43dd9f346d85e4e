// edgeinfer/server's statistics: Triton's statistics extension at /v2/models[/{name}[/versions/{v}]]/stats,
// edgeinfer's own monitoring reports under /monitoring/, and /metrics as counters that only
// grow, labelled by isolate. Driven in Node with Request objects, as server-settings.test.mjs
// does; tests/js/worker.test.mjs runs tritonclient's get_inference_statistics against workerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusDir, importPackage, packageDir } from './harness.mjs';

const KEYS = { predict: 'pk-predict-0123456789abcdef', metrics: 'pk-metrics-0123456789abcdef' };
const env = {
  API_KEYS: JSON.stringify([
    { name: 'web', key: KEYS.predict, scopes: ['predict'] },
    { name: 'prometheus', key: KEYS.metrics, scopes: ['metrics'] },
  ]),
};

/** A handler serving mlp_tabular as versions 1 and 2 (with `options` to load), and a client of it. */
async function serve(options = {}) {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const bytes = readFileSync(join(corpusDir(), 'mlp_tabular.onnx'));
  const load = (monitoring) => Model.load(bytes, { ...monitoring, ...options });
  const h = createHandler({
    models: [
      { name: 'mlp_tabular', version: '1', load },
      { name: 'mlp_tabular', version: '2', load },
    ],
  });
  const pending = [];
  return async (path, { key = KEYS.metrics, body } = {}) => {
    const headers = { authorization: `Bearer ${key}` };
    if (body) headers['content-type'] = 'application/json';
    const request = new Request(`http://worker.test${path}`, {
      method: body ? 'POST' : 'GET',
      headers,
      body: body && JSON.stringify(body),
    });
    const r = await h.fetch(request, env, { waitUntil: (p) => pending.push(p) });
    const text = await r.text();
    await Promise.all(pending.splice(0));
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* the Prometheus text */
    }
    return { status: r.status, text, json };
  };
}

const rows = (n) => ({
  inputs: [{ name: 'x', shape: [n, 32], datatype: 'FP32', data: Array.from({ length: n * 32 }, (_, i) => i / 100) }],
});

const ZERO = { count: 0, ns: 0 };

test("Triton's statistics: the schema, counts of calls and rows, for all models, a model or a version", async () => {
  const call = await serve();
  // The first request: the models have not loaded yet, and have made no inference.
  const before = await call('/v2/models/mlp_tabular/versions/1/stats');
  assert.equal(before.status, 200, before.text);
  assert.deepEqual(before.json, {
    model_stats: [
      {
        name: 'mlp_tabular',
        version: '1',
        last_inference: 0,
        inference_count: 0,
        execution_count: 0,
        inference_stats: {
          success: ZERO,
          fail: ZERO,
          queue: ZERO,
          compute_input: ZERO,
          compute_infer: ZERO,
          compute_output: ZERO,
          cache_hit: ZERO,
          cache_miss: ZERO,
        },
        batch_stats: [],
      },
    ],
  });
  const meta = await call('/v2', { key: KEYS.predict });
  assert.ok(meta.json.extensions.includes('statistics'), JSON.stringify(meta.json));

  const started = Date.now();
  for (const n of [1, 2, 3]) {
    const r = await call('/v2/models/mlp_tabular/versions/1/infer', { key: KEYS.predict, body: rows(n) });
    assert.equal(r.status, 200, r.text);
  }
  const shape = await call('/v2/models/mlp_tabular/versions/1/infer', {
    key: KEYS.predict,
    body: { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(0) }] },
  });
  assert.equal(shape.status, 422, 'a call the model refuses');
  const predicted = await call('/predict', {
    key: KEYS.predict,
    body: { version: '1', instances: [new Array(32).fill(1)] },
  });
  assert.equal(predicted.status, 200, predicted.text);

  const [s] = (await call('/v2/models/mlp_tabular/versions/1/stats')).json.model_stats;
  assert.equal(s.execution_count, 4, 'four calls');
  assert.equal(s.inference_count, 7, 'of 1 + 2 + 3 + 1 rows');
  assert.ok(s.last_inference >= started && s.last_inference <= Date.now(), `${s.last_inference}`);
  const i = s.inference_stats;
  assert.equal(i.success.count, 4);
  assert.ok(Number.isSafeInteger(i.success.ns) && i.success.ns > 0, `${i.success.ns} ns`);
  assert.deepEqual(i.compute_infer, i.success, "the core's time is compute_infer's");
  assert.deepEqual(i.fail, { count: 1, ns: 0 });
  assert.deepEqual([i.queue, i.compute_input, i.compute_output, i.cache_hit, i.cache_miss], new Array(5).fill(ZERO));

  // Every version of a model, and every model, as Triton answers them.
  const versions = (await call('/v2/models/mlp_tabular/stats')).json.model_stats;
  assert.deepEqual(
    versions.map((m) => [m.version, m.execution_count]),
    [
      ['1', 4],
      ['2', 0],
    ],
  );
  assert.deepEqual((await call('/v2/models/stats')).json.model_stats, versions);

  // edgeinfer's own report is not what this path answers.
  assert.deepEqual(Object.keys((await call('/v2/models/mlp_tabular/stats')).json), ['model_stats']);

  for (const [path, status, pattern] of [
    ['/v2/models/nope/stats', 404, /^unknown model 'nope'$/],
    ['/v2/models/mlp_tabular/versions/9/stats', 404, /^model 'mlp_tabular' has no version '9'$/],
    ['/v2/models/%ZZ/stats', 400, /not valid percent-encoding/],
  ]) {
    const r = await call(path);
    assert.equal(r.status, status, path);
    assert.match(r.json.error, pattern);
  }
  assert.equal(
    (await call('/v2/models/stats', { key: KEYS.predict })).status,
    403,
    'statistics need the metrics scope',
  );
  assert.equal((await call('/v2/models/stats', { key: 'not-a-key-0123456789abcdef' })).status, 401);
});

test('a model loaded with monitoring: false serves, and has no statistics: 400 E_INVALID_OPTION', async () => {
  const call = await serve({ monitoring: false });
  assert.equal((await call('/v2/models/mlp_tabular', { key: KEYS.predict })).status, 200, 'loaded');
  for (let i = 0; i < 2; i++) {
    const r = await call('/v2/models/mlp_tabular/infer', { key: KEYS.predict, body: rows(3) });
    assert.equal(r.status, 200, `it still serves: ${r.text}`);
    assert.equal(r.json.outputs[0].shape[0], 3);
  }
  for (const path of ['/v2/models/mlp_tabular/stats', '/v2/models/mlp_tabular/monitoring/stats']) {
    const r = await call(path);
    assert.equal(r.status, 400, path);
    assert.match(r.json.error, /^E_INVALID_OPTION: .*monitoring is off for this model/);
  }
});

test("edgeinfer's own monitoring reports are under /monitoring/", async () => {
  const call = await serve();
  for (const n of [2, 5])
    assert.equal((await call('/v2/models/mlp_tabular/infer', { key: KEYS.predict, body: rows(n) })).status, 200);
  const stats = await call('/v2/models/mlp_tabular/monitoring/stats');
  assert.equal(stats.status, 200, stats.text);
  assert.deepEqual(
    [stats.json.model_name, stats.json.model_version, stats.json.predictions, stats.json.rows],
    ['mlp_tabular', '2', 2, 7],
    'the latest version, as for inference',
  );
  assert.equal(stats.json.latencyMs.count, 2);
  const v1 = await call('/v2/models/mlp_tabular/versions/1/monitoring/stats');
  assert.deepEqual([v1.json.model_version, v1.json.predictions], ['1', 0]);
  const drift = await call('/v2/models/mlp_tabular/versions/2/monitoring/drift');
  assert.equal(drift.status, 200, drift.text);
  assert.equal(drift.json.model_version, '2');
  assert.equal(drift.json.status, 'collecting_baseline');
  assert.equal((await call('/v2/models/mlp_tabular/monitoring/stats', { key: KEYS.predict })).status, 403);
  for (const old of ['/v2/models/mlp_tabular/drift', '/v2/models/mlp_tabular/monitoring/nope']) {
    const r = await call(old);
    assert.equal(r.status, 404, old);
    assert.match(r.json.error, /^no route for /);
  }
});

/** The samples of a Prometheus text exposition, each with its family's type (the TYPE before it). */
function samples(text) {
  let type;
  const out = [];
  for (const line of text.split('\n').filter(Boolean)) {
    if (line.startsWith('# TYPE ')) type = line.split(' ')[3];
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    out.push({ name: m[1], labels, value: Number(m[3]), type, key: line.slice(0, line.lastIndexOf(' ')) });
  }
  return out;
}

test('/metrics: counters only grow, every sample names its isolate, and no rate is precomputed', async () => {
  const call = await serve();
  const scrape = async () => samples((await call('/metrics')).text);
  const predict = (n) => call('/v2/models/mlp_tabular/versions/1/infer', { key: KEYS.predict, body: rows(n) });
  assert.equal((await predict(3)).status, 200);
  const first = await scrape();
  for (const n of [4, 5]) assert.equal((await predict(n)).status, 200);
  const second = await scrape();

  const rowsOf = (s) =>
    s.find(
      (x) => x.name === 'edgeinfer_predict_rows_total' && x.labels.model === 'mlp_tabular' && x.labels.version === '1',
    );
  assert.equal(rowsOf(first).type, 'counter');
  assert.equal(rowsOf(first).value, 3);
  assert.equal(rowsOf(second).value, 3 + 4 + 5, 'the rows counter rose by the rows predicted');

  const isolates = new Set(second.map((s) => s.labels.isolate));
  assert.equal(isolates.size, 1, 'one isolate, every sample labelled with it');
  assert.match([...isolates][0], /^[0-9a-f]{12}$/);
  assert.equal(first[0].labels.isolate, [...isolates][0], 'the id is made once');

  assert.deepEqual(
    second.filter((s) => /per_second|_rate$/.test(s.name)).map((s) => s.name),
    [],
    'a rate is for Prometheus to take',
  );
  const grows = (s) => s.type === 'counter' || (s.type === 'histogram' && !s.name.endsWith('_sum'));
  const later = new Map(second.map((s) => [s.key, s.value]));
  let checked = 0;
  for (const s of first.filter(grows)) {
    assert.ok(s.name.endsWith('_total') || s.type === 'histogram', `${s.name} is a counter not named _total`);
    assert.ok(later.get(s.key) >= s.value, `${s.key} went from ${s.value} to ${later.get(s.key)}`);
    checked++;
  }
  assert.ok(checked > 20, `${checked} counter samples compared`);
});

test('an input guard refuses out-of-range features with 422 E_INPUT_VALUE, and /metrics counts it', async () => {
  const { Model } = await importPackage();
  const trainer = await Model.load(readFileSync(join(corpusDir(), 'mlp_tabular.onnx')));
  const sample = Float32Array.from({ length: 64 * 32 }, (_, i) => i / 100);
  const reference = await trainer.buildReference({ x: { data: sample, shape: [64, 32] } });
  const call = await serve({ reference, guard: 'refuse' });
  const ok = await call('/v2/models/mlp_tabular/versions/1/infer', { key: KEYS.predict, body: rows(2) });
  assert.equal(ok.status, 200, ok.text);
  const far = rows(2);
  far.inputs[0].data[32 + 3] = 1e6;
  const refused = await call('/v2/models/mlp_tabular/versions/1/infer', { key: KEYS.predict, body: far });
  assert.equal(refused.status, 422, refused.text);
  assert.match(refused.json.error, /feature 'x\[3\]' is 1000000 in row 1, outside the allowed range/);
  const again = await call('/v2/models/mlp_tabular/versions/1/infer', { key: KEYS.predict, body: rows(2) });
  assert.deepEqual(again.json.outputs, ok.json.outputs, 'the model answers as before');
  const metrics = (await call('/metrics')).text;
  assert.match(metrics, /edgeinfer_guard_refused_calls_total\{model="mlp_tabular",version="1",[^}]*\} 1/);
  assert.match(
    metrics,
    /edgeinfer_guard_violations_total\{model="mlp_tabular",version="1",[^}]*feature="x\[3\]",kind="above"[^}]*\} 1/,
  );
  const stats = await call('/v2/models/mlp_tabular/versions/1/monitoring/stats');
  assert.equal(stats.json.guard.refusedCalls, 1, stats.text);
});
