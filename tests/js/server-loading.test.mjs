// When edgeinfer/server loads its models: not at start-up (a Worker's module scope, which has
// a time limit), but from the first request on, in the background, with readiness saying
// where each model is. Driven in Node with Request objects, as server-settings.test.mjs does;
// tests/js/worker-startup.test.mjs measures the start-up of a real Worker in workerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusDir, importPackage, packageDir } from './harness.mjs';

const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
const { Model } = await importPackage();
const bytes = readFileSync(join(corpusDir(), 'mlp_tabular.onnx'));
const env = { API_KEYS: JSON.stringify([{ name: 'web', key: 'pk-predict-0123456789abcdef', scopes: ['predict'] }]) };
const infer = {
  method: 'POST',
  body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0.5) }] }),
};

/** A handler over `models` (name: load function), counting loads, and a client of it. */
function serve(models, options = {}) {
  const loads = {};
  const h = createHandler({
    models: Object.entries(models).map(([name, load]) => ({
      name,
      load: (o) => {
        loads[name] = (loads[name] ?? 0) + 1;
        return load(o);
      },
    })),
    ...options,
  });
  const pending = [];
  const call = async (path, init = {}) => {
    const r = await h.fetch(
      new Request(`http://worker.test${path}`, { headers: { 'content-type': 'application/json' }, ...init }),
      { ...env, PUBLIC_ROUTES: 'health,metadata,infer' },
      { waitUntil: (p) => pending.push(p) },
    );
    return { status: r.status, json: await r.json().catch(() => null) };
  };
  const background = () => Promise.all(pending.splice(0));
  return { call, loads, background };
}

const good = (o) => Model.load(bytes, o);
const broken = (o) => Model.load(new Uint8Array([1, 2, 3]), o);

test('nothing loads until the first request, which starts every model in the background', async () => {
  const { call, loads, background } = serve({ a: good, b: good });
  assert.deepEqual(loads, {}, 'making the handler (module scope) loads nothing');
  const first = await call('/v2/health/ready');
  assert.equal(first.status, 503, 'the probe answers at once, before any model has loaded');
  assert.equal(first.json.ready, false);
  assert.deepEqual(
    first.json.models.map((m) => m.name),
    ['a', 'b'],
  );
  for (const m of first.json.models) assert.match(m.state, /^(unloaded|loading)$/);
  assert.equal((await call('/v2/models/a/ready')).status, 503);
  await background();
  assert.deepEqual(loads, { a: 1, b: 1 });
  assert.deepEqual(await call('/v2/health/ready'), { status: 200, json: { ready: true } });
  assert.deepEqual(await call('/v2/models/b/ready'), { status: 200, json: { name: 'b', ready: true } });
  assert.equal((await call('/v2/models/a/infer', infer)).status, 200);
  assert.deepEqual(loads, { a: 1, b: 1 }, 'each model loads once');
});

test('a request for a model not loaded yet loads it on its path', async () => {
  const { call, loads } = serve({ a: good, b: good });
  const r = await call('/v2/models/b/infer', infer);
  assert.equal(r.status, 200);
  assert.equal(r.json.outputs[0].shape.join(), '1,1');
  assert.equal(loads.b, 1);
});

test('a model that fails to load is 503 with its code, and the others serve', async () => {
  const { call, background } = serve({ good, broken });
  await call('/v2/health/live');
  await background();
  const ready = await call('/v2/health/ready');
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.json.models, [
    { name: 'good', version: '1', state: 'ready' },
    { name: 'broken', version: '1', state: 'failed', error: 'E_MODEL_PARSE' },
  ]);
  assert.deepEqual((await call('/v2/models/broken/ready')).json, { name: 'broken', ready: false, state: 'failed' });
  const refused = await call('/v2/models/broken/infer', infer);
  assert.equal(refused.status, 503);
  assert.match(refused.json.error, /failed to load: E_MODEL_PARSE/);
  assert.equal((await call('/v2/models/good/infer', infer)).status, 200);
});

test("loading: 'startup' loads when the handler is made; other values are refused", async () => {
  const { call, loads } = serve({ a: good }, { loading: 'startup' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(loads, { a: 1 }, 'loaded before any request');
  assert.equal((await call('/v2/models/a/infer', infer)).status, 200);
  assert.deepEqual(loads, { a: 1 });
  assert.throws(() => createHandler({ models: [{ name: 'a', load: good }], loading: 'eager' }), {
    message: "createHandler's loading is 'eager', expected one of first-request, startup",
  });
});

test('readFromR2 checks the binding, the pin, the length and the digest', async () => {
  const { readFromR2 } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  /** A bucket holding `data` under 'm.onnx', whose object states `size` and streams in 3 chunks. */
  const bucket = (data, size = data.length) => ({
    MODELS: {
      get: async (key) =>
        key !== 'm.onnx'
          ? null
          : {
              size,
              body: new ReadableStream({
                start(c) {
                  const third = Math.ceil(data.length / 3);
                  for (let i = 0; i < data.length; i += third) c.enqueue(new Uint8Array(data.subarray(i, i + third)));
                  c.close();
                },
              }),
            },
    },
  });
  const read = (env, where) => readFromR2(env, { key: 'm.onnx', sha256, ...where });
  assert.deepEqual(await read(bucket(bytes)), new Uint8Array(bytes));
  const code = async (promise) =>
    (
      await promise.then(
        () => null,
        (e) => e,
      )
    )?.code;
  assert.equal(await code(read({})), 'E_MODEL_FETCH', 'no binding');
  assert.equal(await code(read(bucket(bytes), { key: 'other.onnx' })), 'E_MODEL_FETCH', 'no object');
  assert.equal(await code(read(bucket(bytes), { sha256: 'abc' })), 'E_INVALID_OPTION', 'a malformed pin');
  assert.equal(await code(read(bucket(bytes, bytes.length + 1))), 'E_MODEL_FETCH', 'shorter than stated');
  assert.equal(await code(read(bucket(bytes, bytes.length - 1))), 'E_MODEL_FETCH', 'longer than stated');
  const changed = new Uint8Array(bytes);
  changed[100] ^= 1;
  await assert.rejects(read(bucket(changed)), (e) => e.code === 'E_INTEGRITY' && e.message.includes(sha256));
});
