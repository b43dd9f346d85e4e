// The feedback loop to retraining: rows feedback labels, with their features, exported from
// the library (`exportFeedback()`), from the server (GET .../feedback/export, and to a Queue:
// Cloudflare's own, through Miniflare), and read back by `edgeinfer reference`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Miniflare } from 'miniflare';
import { importPackage, packageDir, root } from './harness.mjs';

const irisBytes = readFileSync(join(root, 'examples/iris.onnx'));
const ROWS = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
const features = { features: { data: new Float32Array(ROWS), shape: [2, 4], dtype: 'float32' } };

test('exportFeedback() gives each labelled row with its features, prediction and label', async () => {
  const { Model, predictionId } = await importPackage();
  const model = await Model.load(irisBytes, {
    monitoring: { name: 'iris', version: '3', exportFeedback: true, log: { redact: ['sepal_width'] } },
  });
  const outputs = await model.predict(features);
  const id = predictionId(outputs);
  assert.deepEqual(model.exportFeedback(), [], 'nothing before feedback');
  assert.equal(model.feedback(id, ['setosa', 'versicolor']), 2);
  const lines = model.exportFeedback().map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(
    lines.map((l) => [l.model, l.version, l.id, l.row, l.prediction, l.label]),
    [
      ['iris', '3', id, 0, 'setosa', 'setosa'],
      ['iris', '3', id, 1, 'virginica', 'versicolor'],
    ],
  );
  // As sent, named as the model names its features, without what the logs redact.
  assert.deepEqual(lines[1].features, { sepal_length: 6.7, petal_length: 5.2, petal_width: 2.3 });
  for (const l of lines) assert.ok(Date.parse(l.labelled) >= Date.parse(l.predicted), JSON.stringify(l));
  assert.deepEqual(model.exportFeedback(), [], 'taking empties the queue');
  const stats = model.stats().feedback;
  assert.deepEqual([stats.export, stats.exported, stats.exportDropped], [true, 2, 0]);

  // Off by default; bad values and models with nothing to label are refused by name.
  const plain = await Model.load(irisBytes);
  plain.feedback(predictionId(await plain.predict(features)), [0, 2]);
  assert.deepEqual(plain.exportFeedback(), []);
  assert.equal(plain.stats().feedback.export, false);
  await assert.rejects(Model.load(irisBytes, { monitoring: { exportFeedback: 'yes' } }), (e) => {
    assert.equal(e.code, 'E_INVALID_OPTION');
    assert.match(e.message, /monitoring\.exportFeedback/);
    return true;
  });
});

/** A handler serving iris (exporting labelled rows) and iris_plain (not), and a client of it. */
async function serve(env = {}) {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const load = (exportFeedback) => (o) =>
    Model.load(irisBytes, { ...o, monitoring: { ...o.monitoring, exportFeedback } });
  const h = createHandler({
    models: [
      { name: 'iris', version: '1', load: load(true) },
      { name: 'iris_plain', version: '1', load: load(false) },
    ],
  });
  const keys = { web: 'pk-web-0123456789abcdef', ops: 'pk-ops-0123456789abcdef' };
  const API_KEYS = JSON.stringify([
    { name: 'web', key: keys.web, scopes: ['predict'] },
    { name: 'ops', key: keys.ops, scopes: ['admin'] },
  ]);
  const pending = [];
  const call = async (path, key, body) => {
    const r = await h.fetch(
      new Request(`http://worker.test${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${keys[key]}`, 'content-type': 'application/json' },
        body: body && JSON.stringify(body),
      }),
      { API_KEYS, ...env },
      { waitUntil: (p) => pending.push(p) },
    );
    await Promise.all(pending.splice(0));
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  };
  /** Predicts both rows and labels them; the prediction's id. */
  call.labelled = async (model = 'iris') => {
    const r = await call(`/v2/models/${model}/infer`, 'web', {
      inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: ROWS }],
    });
    const id = JSON.parse(r.text).parameters.prediction_id;
    const f = await call(`/v2/models/${model}/feedback`, 'web', { id, labels: ['setosa', 'virginica'] });
    assert.equal(f.status, 200, f.text);
    return id;
  };
  return call;
}

test('the server exports labelled rows as JSON Lines to admins, once each', async () => {
  const call = await serve();
  const id = await call.labelled();
  assert.equal((await call('/v2/models/iris/feedback/export', 'web')).status, 403);
  const r = await call('/v2/models/iris/feedback/export', 'ops');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.type, 'application/x-ndjson');
  const lines = r.text.trimEnd().split('\n').map(JSON.parse);
  assert.deepEqual(
    lines.map((l) => [l.model, l.version, l.id, l.row, l.label]),
    [
      ['iris', '1', id, 0, 'setosa'],
      ['iris', '1', id, 1, 'virginica'],
    ],
  );
  assert.equal(lines[0].features.petal_length, 1.4);
  assert.equal((await call('/v2/models/iris/versions/1/feedback/export', 'ops')).text, '', 'already taken');
  await call.labelled('iris_plain');
  const off = await call('/v2/models/iris_plain/feedback/export', 'ops');
  assert.equal(off.status, 409);
  assert.match(off.text, /load it with monitoring: \{ exportFeedback: true \}/);
  assert.equal((await call('/v2/models/nope/feedback/export', 'ops')).status, 404);
});

const miniflare = new Miniflare({
  modules: true,
  // The consumer a deployment would have: here it keeps each message in KV for the test to read.
  script: `export default {
    fetch: () => new Response(''),
    async queue(batch, env) {
      for (const m of batch.messages) await env.SEEN.put(m.id, JSON.stringify(m.body));
    },
  }`,
  queueProducers: { FEEDBACK: 'labelled-rows' },
  queueConsumers: { 'labelled-rows': { maxBatchTimeout: 0.05 } },
  kvNamespaces: ['SEEN'],
});
after(() => miniflare.dispose());

test('with FEEDBACK_QUEUE, labelled rows go to the Queue as feedback labels them', async () => {
  const call = await serve({ FEEDBACK_QUEUE: 'FEEDBACK', FEEDBACK: await miniflare.getQueueProducer('FEEDBACK') });
  const id = await call.labelled();
  const seen = await miniflare.getKVNamespace('SEEN');
  let keys = [];
  for (let tries = 0; tries < 100 && keys.length < 2; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    keys = (await seen.list()).keys;
  }
  const bodies = await Promise.all(keys.map(async (k) => JSON.parse(await seen.get(k.name))));
  assert.deepEqual(bodies.map((b) => [b.id, b.row, b.label]).sort(), [
    [id, 0, 'setosa'],
    [id, 1, 'virginica'],
  ]);
  // Sent, so no longer waiting for an export.
  assert.equal((await call('/v2/models/iris/feedback/export', 'ops')).text, '');
});

test('edgeinfer reference reads an export, so the next version drifts against what it will face', async () => {
  const { Model, predictionId } = await importPackage();
  const model = await Model.load(irisBytes, { monitoring: { exportFeedback: true } });
  const rows = Array.from({ length: 40 }, (_, i) => [4.5 + i * 0.08, 3 + (i % 5) * 0.1, 1 + i * 0.14, 0.1 + i * 0.06]);
  const outputs = await model.predict({ features: { data: new Float32Array(rows.flat()), shape: [40, 4] } });
  model.feedback(predictionId(outputs), Array.from(outputs.label.data, Number));
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-export-'));
  writeFileSync(join(dir, 'export.jsonl'), model.exportFeedback().join('\n') + '\n');
  const cli = (...args) => execFileSync(process.execPath, [join(packageDir, 'js/cli.js'), ...args], { cwd: dir });
  cli('reference', 'export.jsonl', '--model', join(root, 'examples/iris.onnx'), '-o', 'reference.json');
  const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));
  assert.equal(reference.rows, 40);
  assert.deepEqual(
    reference.features.map((f) => f.name),
    ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  );
  assert.ok(reference.prediction, 'the model described its predictions on the export');
  // The reference loads as the next version's drift reference, and the model answers.
  const next = await Model.load(irisBytes, { reference });
  assert.equal((await next.predict(features)).label.data.length, 2);
  // A line that is not an export's is refused by line number.
  writeFileSync(join(dir, 'bad.jsonl'), '{"features": {"sepal_length": 1}}\n{"row": 3}\n');
  assert.throws(
    () =>
      execFileSync(process.execPath, [join(packageDir, 'js/cli.js'), 'reference', 'bad.jsonl'], {
        cwd: dir,
        stdio: 'pipe',
      }),
    (e) => e.status === 2 && /bad\.jsonl: line 2 has no features object/.test(e.stderr),
  );
});
