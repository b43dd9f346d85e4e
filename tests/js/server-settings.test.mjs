// edgeinfer/server's settings that the workerd test runs with only one value of: which route
// groups are public, and prediction logs to a Queue. The handler is the same module the
// Worker runs, driven in Node with Request objects; each configuration is one handler, as
// each deployment is one Worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusDir, importPackage, packageDir } from './harness.mjs';

const KEY = 'pk-predict-0123456789abcdef';
const API_KEYS = JSON.stringify([{ name: 'web', key: KEY, scopes: ['predict'] }]);

async function handler(publicRoutes, vars = {}) {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const bytes = readFileSync(join(corpusDir(), 'mlp_tabular.onnx'));
  const h = createHandler({
    models: [{ name: 'mlp_tabular', version: '1', load: (options) => Model.load(bytes, options) }],
  });
  const env = { API_KEYS, PUBLIC_ROUTES: publicRoutes, ...vars };
  const pending = [];
  const context = { waitUntil: (p) => pending.push(p) };
  return async (path, { method = 'GET', key, body, text } = {}) => {
    const headers = key ? { authorization: `Bearer ${key}` } : {};
    if (body || text) headers['content-type'] = 'application/json';
    const payload = text ?? (body && JSON.stringify(body));
    const r = await h.fetch(new Request(`http://worker.test${path}`, { method, headers, body: payload }), env, context);
    const json = await r.json().catch(() => null);
    await Promise.all(pending.splice(0));
    return { status: r.status, json };
  };
}

const infer = {
  method: 'POST',
  body: { inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0.5) }] },
};

test('health off PUBLIC_ROUTES asks for valid credentials of any scope', async () => {
  const call = await handler('');
  assert.equal((await call('/v2/health/live')).status, 401);
  assert.equal((await call('/v2/health/live', { key: 'not-a-key-0123456789abcdef' })).status, 401);
  assert.deepEqual(await call('/v2/health/live', { key: KEY }), { status: 200, json: { live: true } });
  assert.equal((await call('/v2/models/mlp_tabular/infer', { ...infer, key: KEY })).status, 200);
});

test('public metadata and inference answer without credentials; metrics still need them', async () => {
  const call = await handler('health,metadata,infer');
  const meta = await call('/v2/models/mlp_tabular');
  assert.equal(meta.status, 200);
  assert.equal(meta.json.name, 'mlp_tabular');
  assert.equal((await call('/v2/models/mlp_tabular/infer', infer)).status, 200);
  assert.equal((await call('/metrics')).status, 401);
  assert.equal((await call('/metrics', { key: KEY })).status, 403, 'a predict key lacks the metrics scope');
});

test('batch jobs without their bindings are 409 naming them; a predict key cannot submit one', async () => {
  const BATCH_KEY = 'bk-batch-0123456789abcdef';
  const keys = JSON.stringify([
    { name: 'web', key: KEY, scopes: ['predict'] },
    { name: 'analyst', key: BATCH_KEY, scopes: ['batch'] },
  ]);
  const call = await handler('health', { API_KEYS: keys });
  const job = { method: 'POST', body: { model: 'mlp_tabular', input: 'table.csv' } };
  assert.equal((await call('/v2/batch/jobs', { ...job, key: KEY })).status, 403);
  const r = await call('/v2/batch/jobs', { ...job, key: BATCH_KEY });
  assert.equal(r.status, 409);
  assert.match(r.json.error, /an R2 bucket bound as 'BATCH' and a Queue producer bound as 'BATCH_CHUNKS'/);
  assert.equal((await call('/v2/batch/jobs/00000000-0000-4000-8000-000000000000', { key: BATCH_KEY })).status, 409);
});

/** Runs `f` with console.error captured: its lines. */
async function errorsOf(f) {
  const lines = [];
  const real = console.error;
  console.error = (...args) => lines.push(args.join(' '));
  try {
    await f();
  } finally {
    console.error = real;
  }
  return lines;
}

test('a misconfiguration answers 500 with no values in it; the detail goes to the logs', async () => {
  for (const [vars, logged] of [
    [{ PUBLIC_ROUTES: 'health,everything' }, /PUBLIC_ROUTES names 'everything'; the route groups are health, metadata/],
    [{ JWT_HS256_SECRET: 'a' }, /JWT_HS256_SECRET is 1 bytes; it must be at least 32/],
    [
      { API_KEYS: JSON.stringify([{ name: 'dotted', key: 'abcdefgh.ijklmnop.qrstuvwx', scopes: ['predict'] }]) },
      /API_KEYS\[0\] \('dotted'\) is shaped like a JWT/,
    ],
    [{ JWT_EDDSA_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnot-a-key-at-all\n-----END PUBLIC KEY-----' }, /./],
    [{ RATE_LIMIT_PERIOD: '30' }, /RATE_LIMIT_PERIOD must be 10 or 60 \(a Rate Limiting binding's period\), got '30'/],
    [
      { API_KEYS: JSON.stringify([{ name: 'web', key: KEY, scopes: ['predict'], rateLimit: 5 }]) },
      /API_KEYS\[0\] \('web'\): rateLimit names a Rate Limiting binding, got 5/,
    ],
    // Public routes count by IP against RATE_LIMIT: a binding the Worker lacks is a mistake.
    [{ RATE_LIMIT: 'MISSING' }, /RATE_LIMIT names the rate limit binding 'MISSING', which the Worker does not have/],
    [
      { RATE_LIMIT_REQUESTS: '2.5' },
      /RATE_LIMIT_REQUESTS must be a whole number of requests a window, at least 1, got '2.5'/,
    ],
    [{ PUBLIC_ROUTES: 'health,admin' }, /PUBLIC_ROUTES names admin, whose routes change the service/],
    [{ PUBLIC_ROUTES: 'batch' }, /PUBLIC_ROUTES names batch, whose routes read the bucket/],
    [{ BATCH_ROWS_PER_CHUNK: '100001' }, /BATCH_ROWS_PER_CHUNK must be at most 100000, got '100001'/],
    [{ BATCH_ROWS_PER_CHUNK: '0' }, /BATCH_ROWS_PER_CHUNK must be a positive integer, got '0'/],
    [
      { TRAFFIC_REFRESH_SECONDS: '60' },
      /TRAFFIC_REFRESH_SECONDS must be a whole number of seconds from 1 to 30, got '60'/,
    ],
  ]) {
    const call = await handler(vars.PUBLIC_ROUTES ?? 'health', vars);
    let r;
    const lines = await errorsOf(async () => {
      r = await call('/v2/health/live');
    });
    assert.equal(r.status, 500, JSON.stringify(vars));
    assert.equal(r.json.error, "server misconfigured (the Worker's logs say how)");
    assert.match(lines.join('\n'), logged);
  }
});

test('hostile bodies get a 4xx naming the problem, never a 500, and the model keeps serving', async () => {
  const call = await handler('health');
  const deep = (n) => `${'['.repeat(n)}0${']'.repeat(n)}`;
  const cases = [
    [
      { inputs: [{ name: 'x', shape: [1, 32], datatype: [['FP32']], data: new Array(32).fill(0) }] },
      400,
      /datatype \[\["FP32"\]\] is not one of/,
    ],
    [
      { inputs: [{ name: 'x', shape: [1, 32], datatype: { toString: 1 }, data: [] }] },
      400,
      /datatype \{"toString":1\} is not one of/,
    ],
    [
      { inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', parameters: { binary_data_size: { toString: 1 } } }] },
      400,
      /binary_data_size is \{"toString":1\}/,
    ],
    [
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [[[1]], [[2]]] }] },
      400,
      /data nests deeper than its 2 axes/,
    ],
    [
      { inputs: [{ name: '__proto__', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0) }] },
      422,
      /E_INPUT_UNKNOWN: unknown input '__proto__'/,
    ],
    [
      { inputs: [{ name: 'constructor', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0) }] },
      422,
      /E_INPUT_UNKNOWN: unknown input 'constructor'/,
    ],
  ];
  for (const [body, status, pattern] of cases) {
    const r = await call('/v2/models/mlp_tabular/infer', { method: 'POST', key: KEY, body });
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 80));
    assert.match(r.json.error, pattern);
  }
  const version = await call('/predict', {
    method: 'POST',
    key: KEY,
    body: { version: { toString: 1 }, instances: [new Array(32).fill(0)] },
  });
  assert.equal(version.status, 400);
  assert.match(version.json.error, /'version' must be a string or a number/);
  for (const text of [
    `{"inputs": [{"name": "x", "shape": [1, 32], "datatype": "FP32", "data": ${deep(10000)}}]}`,
    deep(500000),
  ]) {
    const r = await call('/v2/models/mlp_tabular/infer', { method: 'POST', key: KEY, text });
    assert.equal(r.status, 400, text.slice(0, 60));
    assert.match(r.json.error, /the JSON nests more than 32 levels deep/);
  }
  // Strings may hold brackets: they do not count.
  const brackets = await call('/predict', {
    method: 'POST',
    key: KEY,
    body: { model: `${'['.repeat(100)}`, instances: [[1]] },
  });
  assert.equal(brackets.status, 404);
  assert.equal((await call('/v2/models/mlp_tabular/infer', { ...infer, key: KEY })).status, 200, 'still serving');
});

test('callers who may not see the models learn nothing of them from a 404', async () => {
  const call = await handler('health');
  const anonymous = await call('/v2/models/nope/ready');
  assert.equal(anonymous.status, 404);
  assert.equal(anonymous.json.error, "unknown model 'nope'");
  const version = await call('/v2/models/mlp_tabular/versions/9/ready');
  assert.equal(version.json.error, "model 'mlp_tabular' has no version '9'");
  const known = await call('/v2/models/nope', { key: KEY });
  assert.match(known.json.error, /the models are mlp_tabular/);
});

test('a JWT valid further ahead than JWT_MAX_LIFETIME is refused', async () => {
  const { SignJWT } = await import(pathToFileURL(createRequire(join(packageDir, 'package.json')).resolve('jose')).href);
  const secret = 'hs256-secret-for-tests-0123456789abcdef';
  const call = await handler('health', { JWT_HS256_SECRET: secret, JWT_MAX_LIFETIME: '3600' });
  const token = (exp) =>
    new SignJWT({ scope: 'predict' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));
  const now = Math.floor(Date.now() / 1000);
  assert.equal((await call('/v2/models/mlp_tabular', { key: await token(now + 600) })).status, 200);
  const far = await call('/v2/models/mlp_tabular', { key: await token(1e12) });
  assert.equal(far.status, 401);
  assert.match(far.json.error, /invalid token: expires more than JWT_MAX_LIFETIME \(3600 s\) from now/);
});

test('prediction logs go to the Queue binding, one message per line, without the redacted feature', async () => {
  const messages = [];
  const queue = { sendBatch: async (batch) => messages.push(...batch) };
  const call = await handler('health', {
    LOG_PREDICTIONS: 'queue',
    LOG_QUEUE: 'LOGS',
    LOGS: queue,
    LOG_INPUTS: 'true',
    LOG_REDACT: 'x[3]',
  });
  const data = Array.from({ length: 64 }, (_, i) => i / 64);
  const ids = [];
  for (let k = 0; k < 3; k++) {
    const r = await call('/v2/models/mlp_tabular/infer', {
      method: 'POST',
      key: KEY,
      body: { inputs: [{ name: 'x', shape: [2, 32], datatype: 'FP32', data }] },
    });
    assert.equal(r.status, 200);
    ids.push(r.json.parameters.prediction_id);
  }
  assert.deepEqual(
    messages.map((m) => m.body.id),
    ids,
  );
  for (const m of messages) {
    assert.equal(m.contentType, 'json');
    assert.deepEqual([m.body.model, m.body.version, m.body.rows], ['mlp_tabular', '1', 2]);
    assert.deepEqual(m.body.inputs['x[2]'], [data[2], data[34]], 'the inputs as sent');
    assert.ok(
      !('x[3]' in m.body.inputs) && !JSON.stringify(m.body).includes(String(data[3])),
      'a redacted feature reached the queue',
    );
  }
});

test('BASE_PATH puts every route under a prefix, as a route pattern such as example.com/models/* needs', async () => {
  const call = await handler('health,infer', { BASE_PATH: '/models/' });
  assert.deepEqual(await call('/models/v2/health/live'), { status: 200, json: { live: true } });
  assert.equal((await call('/models/v2/models/mlp_tabular/infer', infer)).status, 200);
  for (const outside of ['/v2/health/live', '/modelsx/v2/health/live', '/']) {
    const r = await call(outside);
    assert.equal(r.status, 404, outside);
    assert.match(r.json.error, /the routes are under \/models\//);
  }
  const bad = await handler('health', { BASE_PATH: 'models here' });
  assert.equal((await bad('/v2/health/live')).status, 500, 'a misconfiguration, not a silent default');
});
