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
      { ...env, PUBLIC_ROUTES: 'health,metadata,infer,metrics' },
      { waitUntil: (p) => pending.push(p) },
    );
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // /metrics is text.
    }
    return { status: r.status, json, text };
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
  assert.deepEqual((await call('/v2/health/ready')).json, { ready: true });
  assert.deepEqual((await call('/v2/models/b/ready')).json, { name: 'b', ready: true });
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

// The memory budget, in units of what one model holds once loaded (its symbolic plan built at
// load, and no monitoring, so that predictions do not add to it).
const lean = (o) => Model.load(bytes, { ...o, maxSpecializedPlans: 0, monitoring: false });
const one = await lean({}).then((m) => {
  const { bytes: held } = m.memory();
  m.dispose();
  return held;
});
const budget = (over) => ({ memory: { budget: Math.floor(1.5 * one), over } });
const states = async (call) => {
  const { ready, models } = (await call('/v2/health/ready')).json;
  return ready ? 'all ready' : models.map((m) => `${m.name}:${m.state}`);
};

test('a memory budget refuses the model that would pass it, with E_RESOURCE_LIMIT; the others serve', async () => {
  const { call, background } = serve({ a: lean, b: lean }, budget('refuse'));
  await call('/v2/health/live');
  await background();
  const ready = await call('/v2/health/ready');
  assert.deepEqual(ready.json.models, [
    { name: 'a', version: '1', state: 'ready' },
    { name: 'b', version: '1', state: 'failed', error: 'E_RESOURCE_LIMIT' },
  ]);
  assert.equal((await call('/v2/models/a/infer', infer)).status, 200);
  const refused = await call('/v2/models/b/infer', infer);
  assert.equal(refused.status, 503);
  assert.match(refused.json.error, /E_RESOURCE_LIMIT/);
});

test("under over: 'evict', loading a model unloads the least recently used idle one", async () => {
  const { call, loads, background } = serve({ a: lean, b: lean }, budget('evict'));
  await call('/v2/health/live');
  await background();
  assert.deepEqual(await states(call), ['a:unloaded', 'b:ready'], 'b loaded after a, so a made room');
  assert.equal((await call('/v2/models/a/infer', infer)).status, 200, 'an evicted model loads again');
  assert.deepEqual(await states(call), ['a:ready', 'b:unloaded']);
  assert.equal((await call('/v2/models/b/infer', infer)).status, 200);
  assert.deepEqual(loads, { a: 2, b: 2 });
  const metrics = (await call('/metrics')).text;
  const b = metrics.match(/^edgeinfer_model_memory_bytes\{model="b",version="1",isolate="[0-9a-f]+"\} (\d+)$/m);
  assert.ok(b, 'the loaded model has a gauge');
  // What it holds after load, and a prediction's state: within the budget.
  assert.ok(Number(b[1]) >= one && Number(b[1]) <= 1.5 * one, `b holds ${b[1]} bytes, loaded ${one}`);
  assert.doesNotMatch(metrics, /edgeinfer_model_memory_bytes\{model="a"/, 'an unloaded model holds nothing');
  assert.match(
    metrics,
    new RegExp(`^edgeinfer_memory_budget_bytes\\{isolate="[0-9a-f]+"\\} ${Math.floor(1.5 * one)}$`, 'm'),
  );
});

test('a model a request is using is not evicted under it, but once it is answered', async () => {
  const { call, background } = serve({ a: lean, b: lean }, budget('evict'));
  await call('/v2/health/live');
  await background();
  // b evicted a as it loaded; a request for a loads it again (evicting b) and holds it while
  // its body arrives.
  let finish;
  const body = new ReadableStream({
    start(controller) {
      finish = () => {
        controller.enqueue(new TextEncoder().encode(infer.body));
        controller.close();
      };
    },
  });
  const slow = call('/v2/models/a/infer', { method: 'POST', body, duplex: 'half' });
  for (let i = 0; String(await states(call)) !== 'a:ready,b:unloaded'; i++) {
    assert.ok(i < 400, 'a loads for the request within 2 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  const other = await call('/v2/models/b/infer', infer);
  assert.equal(other.status, 200, 'b loads again, over the budget while a is in use');
  assert.equal(await states(call), 'all ready');
  finish();
  assert.equal((await slow).status, 200, 'the request holding a is answered by a');
  assert.deepEqual(await states(call), ['a:ready', 'b:unloaded'], 'then the idle, least recently used model goes');
});

test("under over: 'evict', only a model bigger than the budget on its own is refused", async () => {
  const { call, background } = serve({ a: lean }, { memory: { budget: Math.floor(one / 2), over: 'evict' } });
  await call('/v2/health/live');
  await background();
  const refused = await call('/v2/models/a/infer', infer);
  assert.equal(refused.status, 503);
  assert.match(refused.json.error, /E_RESOURCE_LIMIT/);
});

test('a memory budget that is not one is refused when the handler is made', () => {
  const models = [{ name: 'a', load: lean }];
  for (const [memory, message] of [
    [{ budget: 0 }, /memory.budget is a positive number of bytes, got 0/],
    [{ budget: '64MB' }, /memory.budget is a positive number of bytes, got 64MB/],
    [{ budget: 1e6, over: 'drop' }, /memory.over is 'drop', expected one of refuse, evict/],
    [{ budget: 1e6, evict: true }, /memory has no option 'evict'; its options are budget and over/],
  ]) {
    assert.throws(() => createHandler({ models, memory }), message);
  }
});
