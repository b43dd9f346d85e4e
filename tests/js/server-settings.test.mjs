// edgeinfer/server's settings that the workerd test runs with only one value of: which route
// groups are public, and prediction logs to a Queue. The handler is the same module the
// Worker runs, driven in Node with Request objects; each configuration is one handler, as
// each deployment is one Worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusDir, importPackage, packageDir } from './harness.mjs';

const KEY = 'pk-predict-0123456789abcdef';
const API_KEYS = JSON.stringify([{ name: 'web', key: KEY, scopes: ['predict'] }]);

async function handler(publicRoutes, vars = {}) {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const bytes = readFileSync(join(corpusDir(), 'mlp_tabular.onnx'));
  const h = createHandler({ models: [{ name: 'mlp_tabular', version: '1', load: (options) => Model.load(bytes, options) }] });
  const env = { API_KEYS, PUBLIC_ROUTES: publicRoutes, ...vars };
  const pending = [];
  const context = { waitUntil: (p) => pending.push(p) };
  return async (path, { method = 'GET', key, body } = {}) => {
    const headers = key ? { authorization: `Bearer ${key}` } : {};
    if (body) headers['content-type'] = 'application/json';
    const r = await h.fetch(new Request(`http://worker.test${path}`, { method, headers, body: body && JSON.stringify(body) }), env, context);
    const json = await r.json().catch(() => null);
    await Promise.all(pending.splice(0));
    return { status: r.status, json };
  };
}

const infer = { method: 'POST', body: { inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0.5) }] } };

test('health off PUBLIC_ROUTES asks for valid credentials of any scope', async () => {
  const call = await handler('');
  assert.equal((await call('/v2/health/live')).status, 401);
  assert.equal((await call('/v2/health/live', { key: 'not-a-key-0123456789abcdef' })).status, 401);
  assert.deepEqual(await call('/v2/health/live', { key: KEY }), { status: 200, json: { live: true } });
  assert.equal((await call('/v2/models/mlp_tabular/infer', { ...infer, key: KEY })).status, 200);
});

test('public metadata and inference answer without credentials; metrics still need them', async () => {
  const call = await handler('health,metadata,infer');
  assert.equal((await call('/v2/health/ready')).status, 200);
  const meta = await call('/v2/models/mlp_tabular');
  assert.equal(meta.status, 200);
  assert.equal(meta.json.name, 'mlp_tabular');
  assert.equal((await call('/v2/models/mlp_tabular/infer', infer)).status, 200);
  assert.equal((await call('/metrics')).status, 401);
  assert.equal((await call('/metrics', { key: KEY })).status, 403, 'a predict key lacks the metrics scope');
});

test('an unknown route group is a configuration error, reported without the secrets', async () => {
  const call = await handler('health,everything');
  const r = await call('/v2/health/live');
  assert.equal(r.status, 500);
  assert.match(r.json.error, /server misconfigured: PUBLIC_ROUTES names 'everything'; the route groups are health, metadata/);
  assert.ok(!JSON.stringify(r.json).includes(KEY));
});

test('prediction logs go to the Queue binding, one message per line, without the redacted feature', async () => {
  const messages = [];
  const queue = { sendBatch: async (batch) => messages.push(...batch) };
  const call = await handler('health', { LOG_PREDICTIONS: 'queue', LOG_QUEUE: 'LOGS', LOGS: queue, LOG_INPUTS: 'true', LOG_REDACT: 'x[3]' });
  const data = Array.from({ length: 64 }, (_, i) => i / 64);
  const ids = [];
  for (let k = 0; k < 3; k++) {
    const r = await call('/v2/models/mlp_tabular/infer', { method: 'POST', key: KEY, body: { inputs: [{ name: 'x', shape: [2, 32], datatype: 'FP32', data }] } });
    assert.equal(r.status, 200);
    ids.push(r.json.parameters.prediction_id);
  }
  assert.deepEqual(messages.map((m) => m.body.id), ids);
  for (const m of messages) {
    assert.equal(m.contentType, 'json');
    assert.deepEqual([m.body.model, m.body.version, m.body.rows], ['mlp_tabular', '1', 2]);
    assert.deepEqual(m.body.inputs['x[2]'], [data[2], data[34]], 'the inputs as sent');
    assert.ok(!('x[3]' in m.body.inputs) && !JSON.stringify(m.body).includes(String(data[3])), 'a redacted feature reached the queue');
  }
});
