// The HTTP server in real workerd: a project scaffolded by `edgeinfer worker` from the
// installed package, run with `wrangler dev` on 127.0.0.1, driven by a real HTTP client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { corpusDir, fixtures, packageDir, root, writeIdentityModel } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';
import { half } from '../suite/assert.mjs';
import { assertMatches } from '../suite/suite.mjs';

const dir = join(root, '.cache/worker-e2e');
const modelsDir = join(root, '.cache/worker-e2e-models');
const KEYS = {
  predict: 'pk-predict-0123456789abcdef',
  // Another client with the same scope: it must not label the first one's predictions.
  mobile: 'pk-mobile-0123456789abcdefg',
  labeller: 'pk-labeller-0123456789abcdef',
  metrics: 'pk-metrics-0123456789abcdef',
  admin: 'pk-admin-0123456789abcdefgh',
  // Counted against a tight Rate Limiting binding of its own (TIGHT, below).
  metered: 'pk-metered-0123456789abcdef',
  unbound: 'pk-unbound-0123456789abcdef',
  // Counted by a Durable Object namespace of RateLimiter (COUNTED), 4 requests a minute.
  counted: 'pk-counted-0123456789abcdef',
};
const HS_SECRET = 'hs256-secret-for-tests-0123456789abcdef';
const AUDIENCE = 'edgeinfer-test';
const ORIGIN = 'https://app.example';
const LIMITS = { MAX_BODY_BYTES: 200000, MAX_BATCH_ROWS: 64, MAX_TENSOR_ELEMENTS: 4096 };
// Every model of the shared corpus is served, and `dtypes` (made in `before`) for the
// integer datatypes the corpus lacks.
const MODELS = [...new Set(fixtures().cases.map((c) => c.modelName))];
const V2 = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
  string: 'BYTES',
};

let server, base, edKeys;
const seen = []; // every response body and header, to check that no secret leaks
const tokens = []; // every JWT sent, which must not leak either

async function call(path, { method = 'GET', key, token, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined && !raw) h['content-type'] ??= 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers: h,
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await response.text();
  seen.push(text, JSON.stringify([...response.headers]));
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A corpus case's inputs as a v2 infer request. */
function v2Request(c, extra = {}) {
  return {
    ...extra,
    inputs: Object.entries(c.inputs).map(([name, t]) => ({
      name,
      shape: t.shape,
      datatype: V2[t.dtype],
      data:
        t.dtype === 'float16'
          ? Array.from(t.data, half)
          : t.dtype === 'bool'
            ? Array.from(t.data, (b) => b !== 0)
            : Array.from(t.data, (x) => (typeof x === 'bigint' ? Number(x) : x)),
    })),
  };
}

const DATATYPE_NAME = Object.fromEntries(Object.entries(V2).map(([k, v]) => [v, k]));

/** Checks a v2 response against a corpus case's reference outputs (onnxruntime's). */
function assertAsOnnxruntime(c, response) {
  for (const [name, expected] of Object.entries(c.outputs)) {
    const o = response.outputs.find((x) => x.name === name);
    assert.ok(o, `${c.name}: output ${name}`);
    assert.equal(o.datatype, V2[expected.dtype]);
    if (expected.dtype === 'float16') {
      assert.deepEqual(o.shape, expected.shape);
      o.data.forEach((v, i) =>
        assert.ok(
          Math.abs(v - half(expected.data[i])) <= c.atol + c.rtol * Math.abs(half(expected.data[i])),
          `${c.name}[${i}]`,
        ),
      );
    } else {
      assertMatches(fromV2(o, expected.dtype), expected, { rtol: c.rtol, atol: c.atol }, `${c.name} ${name}`);
    }
  }
}

/** A v2 response output back in the package's { data, shape, dtype } form, to compare. */
function fromV2(o, dtype) {
  const arrays = {
    float32: Float32Array,
    float64: Float64Array,
    int32: Int32Array,
    bool: Uint8Array,
    float16: Uint16Array,
  };
  if (dtype === 'int64') return { dtype, shape: o.shape, data: BigInt64Array.from(o.data, BigInt) };
  if (dtype === 'string') return { dtype, shape: o.shape, data: o.data };
  if (dtype === 'bool') return { dtype, shape: o.shape, data: Uint8Array.from(o.data, Number) };
  if (dtype === 'float16') return { dtype: 'float16-as-number', shape: o.shape, data: o.data };
  return { dtype, shape: o.shape, data: arrays[dtype].from(o.data) };
}

async function jwt(claims, { alg = 'HS256', expires = '5m', notBefore, audience = AUDIENCE } = {}) {
  const key = alg === 'HS256' ? new TextEncoder().encode(HS_SECRET) : edKeys.privateKey;
  let j = new SignJWT(claims).setProtectedHeader({ alg }).setIssuedAt().setSubject('tester').setAudience(audience);
  if (expires) j = j.setExpirationTime(expires);
  if (notBefore) j = j.setNotBefore(notBefore);
  const token = await j.sign(key);
  tokens.push(token);
  return token;
}

/** A training sample for mlp_tabular as CSV (its own column names, taken by position). */
function sampleCsv(rows) {
  const lines = [Array.from({ length: 32 }, (_, j) => `f${j}`).join(',')];
  for (let i = 0; i < rows; i++)
    lines.push(Array.from({ length: 32 }, (_, j) => Math.sin(i * 31 + j).toFixed(6)).join(','));
  return `${lines.join('\n')}\n`;
}

before(async () => {
  rmSync(dir, { recursive: true, force: true });
  // mlp_tabular goes with a drift reference made by the CLI from a CSV sample, beside it.
  rmSync(modelsDir, { recursive: true, force: true });
  mkdirSync(modelsDir, { recursive: true });
  copyFileSync(join(corpusDir(), 'mlp_tabular.onnx'), join(modelsDir, 'mlp_tabular.onnx'));
  writeFileSync(join(modelsDir, 'sample.csv'), sampleCsv(1000));
  execFileSync(
    process.execPath,
    [
      join(packageDir, 'js/cli.js'),
      'reference',
      join(modelsDir, 'sample.csv'),
      '--model',
      join(modelsDir, 'mlp_tabular.onnx'),
      '-o',
      join(modelsDir, 'mlp_tabular.reference.json'),
    ],
    { stdio: 'pipe' },
  );
  writeIdentityModel(join(modelsDir, 'dtypes.onnx'), ['int8', 'int16', 'uint16', 'uint32', 'uint64']);
  // A signed bundle, served under its manifest's name and version, its signature checked in the Worker.
  const cli = (...args) =>
    execFileSync(process.execPath, [join(packageDir, 'js/cli.js'), ...args], { cwd: modelsDir, stdio: 'pipe' });
  cli('keygen', '-o', 'team');
  // Its reference spans iris's ranges, which its guard enforces.
  const [low, high] = [
    [4.3, 2.0, 1.0, 0.1],
    [7.9, 4.4, 6.9, 2.5],
  ];
  const grid = Array.from({ length: 41 }, (_, i) => low.map((l, j) => (l + ((high[j] - l) * i) / 40).toFixed(3)));
  writeFileSync(
    join(modelsDir, 'iris_train.csv'),
    `sepal_length,sepal_width,petal_length,petal_width\n${grid.map((r) => r.join(',')).join('\n')}\n`,
  );
  // Versions 7 and 8 of it, served side by side for the traffic policies' tests.
  for (const version of ['7', '8'])
    cli(
      'build',
      join(root, 'examples/iris.onnx'),
      '--name',
      'iris_signed',
      '--version',
      version,
      '--sign',
      'team.key',
      '--reference',
      'iris_train.csv',
      '--guard',
      'refuse',
      '-o',
      `dist${version}`,
    );
  const models = [
    join(modelsDir, 'mlp_tabular.onnx'),
    ...MODELS.filter((m) => m !== 'mlp_tabular').map((m) => join(corpusDir(), `${m}.onnx`)),
    join(root, 'examples/iris.onnx'),
    join(modelsDir, 'dtypes.onnx'),
    join(modelsDir, 'dist7/iris_signed.wasm'),
    join(modelsDir, 'dist8/iris_signed.wasm'),
  ];
  cli('worker', ...models, '--public-key', 'team.pub', '-o', dir);
  const toml = join(dir, 'wrangler.toml');
  writeFileSync(
    toml,
    `${readFileSync(toml, 'utf8')}\n[[ratelimits]]\nname = "TIGHT"\nnamespace_id = "1001"\nsimple = { limit = 5, period = 60 }\n` +
      // The Durable Object fallback, as worker/wrangler.toml shows it (RATE_LIMIT_REQUESTS below).
      `[[durable_objects.bindings]]\nname = "COUNTED"\nclass_name = "RateLimiter"\n` +
      `[[migrations]]\ntag = "rate-limiter"\nnew_sqlite_classes = ["RateLimiter"]\n` +
      // Traffic policies, as worker/wrangler.toml shows it: wrangler dev keeps KV locally.
      `[[kv_namespaces]]\nbinding = "TRAFFIC"\nid = "traffic-test"\n`,
  );
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(packageDir, join(dir, 'node_modules/edgeinfer'));
  edKeys = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const vars = {
    API_KEYS: JSON.stringify([
      { name: 'web', key: KEYS.predict, scopes: ['predict'] },
      { name: 'mobile', key: KEYS.mobile, scopes: ['predict'] },
      { name: 'labeller', key: KEYS.labeller, scopes: ['predict', 'feedback:any'] },
      { name: 'prometheus', key: KEYS.metrics, scopes: ['metrics'] },
      { name: 'ops', key: KEYS.admin, scopes: ['admin'] },
      { name: 'metered', key: KEYS.metered, scopes: ['predict'], rateLimit: 'TIGHT' },
      { name: 'unbound', key: KEYS.unbound, scopes: ['predict'], rateLimit: 'NOT_BOUND' },
      { name: 'counted', key: KEYS.counted, scopes: ['predict'], rateLimit: 'COUNTED' },
    ]),
    RATE_LIMIT_REQUESTS: '4',
    JWT_HS256_SECRET: HS_SECRET,
    JWT_EDDSA_PUBLIC_KEY: JSON.stringify(await exportJWK(edKeys.publicKey)),
    JWT_AUDIENCE: AUDIENCE,
    CORS_ORIGINS: ORIGIN,
    LOG_PREDICTIONS: 'console',
    LOG_INPUTS: 'true',
    LOG_REDACT: 'petal_width',
    ...LIMITS,
  };
  writeFileSync(
    join(dir, '.dev.vars'),
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'`)
      .join('\n'),
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = start(
    join(root, 'node_modules/.bin/wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'log'],
    {
      cwd: dir,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    },
  );
  await waitFor(`${base}/v2/health/live`, server);
  // The first request started every model loading in the background; ready says when.
  const until = Date.now() + 180000;
  while ((await fetch(`${base}/v2/health/ready`)).status !== 200) {
    if (Date.now() > until) throw new Error(`the models did not load:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(() => server?.stop());

describe('Open Inference Protocol (v2)', () => {
  test('health, server and model metadata', async () => {
    assert.deepEqual((await call('/v2/health/live')).json, { live: true });
    assert.deepEqual((await call('/v2/health/ready')).json, { ready: true });
    const server = (await call('/v2')).json;
    assert.equal(server.name, 'edgeinfer');
    const meta = await call('/v2/models/mlp_tabular', { key: KEYS.predict });
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.json.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 32] }]);
    assert.deepEqual(meta.json.versions, ['1']);
    assert.equal((await call('/v2/models/mlp_tabular/versions/1', { key: KEYS.predict })).status, 200);
    assert.deepEqual((await call('/v2/models/mlp_tabular/ready')).json, { name: 'mlp_tabular', ready: true });
    assert.equal((await call('/v2/models/mlp_tabular/versions/1/ready')).status, 200);
  });

  test('every corpus case answers as onnxruntime does', async () => {
    const cases = fixtures().cases;
    assert.ok(cases.length >= 21, `${cases.length} cases`);
    for (const c of cases) {
      const r = await call(`/v2/models/${c.modelName}/infer`, {
        method: 'POST',
        key: KEYS.predict,
        body: v2Request(c),
      });
      assert.equal(r.status, 200, `${c.name}: ${r.text}`);
      assertAsOnnxruntime(c, r.json);
    }
  });

  test('the integer datatypes go in and come back as sent', async () => {
    const values = {
      INT8: [-128, 0, 127],
      INT16: [-32768, 7, 32767],
      UINT16: [0, 1, 65535],
      UINT32: [0, 7, 4294967295],
      UINT64: [0, 1, 2 ** 52],
    };
    const inputs = Object.entries(values).map(([datatype, data]) => ({
      name: `in_${DATATYPE_NAME[datatype]}`,
      shape: [3],
      datatype,
      data,
    }));
    const r = await call('/v2/models/dtypes/infer', { method: 'POST', key: KEYS.predict, body: { inputs } });
    assert.equal(r.status, 200, r.text);
    for (const [datatype, data] of Object.entries(values)) {
      const o = r.json.outputs.find((x) => x.name === `out_${DATATYPE_NAME[datatype]}`);
      assert.deepEqual([o.datatype, o.shape, o.data], [datatype, [3], data]);
    }
    const over = await call('/v2/models/dtypes/infer', {
      method: 'POST',
      key: KEYS.predict,
      body: { inputs: [{ ...inputs[0], data: [1, 2, 128] }, ...inputs.slice(1)] },
    });
    assert.equal(over.status, 422, over.text);
    assert.match(over.json.error, /E_INPUT_VALUE.*in_int8/);
  });

  test('a signed bundle is served under its manifest name and version, its input guard on', async () => {
    const meta = await call('/v2/models/iris_signed', { key: KEYS.predict });
    assert.equal(meta.status, 200, meta.text);
    assert.deepEqual(meta.json.versions, ['7', '8']);
    const body = {
      inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }],
    };
    const signed = await call('/v2/models/iris_signed/versions/7/infer', { method: 'POST', key: KEYS.predict, body });
    const plain = await call('/v2/models/iris/infer', { method: 'POST', key: KEYS.predict, body });
    assert.equal(signed.status, 200, signed.text);
    assert.equal(signed.json.model_version, '7');
    assert.deepEqual(signed.json.outputs, plain.json.outputs);
    assert.equal(
      (await call('/v2/models/iris_signed/versions/1/infer', { method: 'POST', key: KEYS.predict, body })).status,
      404,
    );
    // The bundle was built with --guard refuse: a petal ten times longer than any in training is refused.
    const far = { inputs: [{ ...body.inputs[0], data: body.inputs[0].data.map((x, i) => (i === 6 ? 52 : x)) }] };
    const refused = await call('/v2/models/iris_signed/versions/7/infer', {
      method: 'POST',
      key: KEYS.predict,
      body: far,
    });
    assert.equal(refused.status, 422, refused.text);
    assert.match(refused.json.error, /E_INPUT_VALUE.*feature 'petal_length' is 52 in row 1, outside the allowed range/);
    const metrics = await call('/metrics', { key: KEYS.metrics });
    assert.match(metrics.text, /edgeinfer_guard_refused_calls_total\{model="iris_signed",version="7"[^}]*\} 1/);
  });

  test('versions side by side: an admin moves traffic between them through KV', async () => {
    const body = {
      inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }],
    };
    const infer = (key = KEYS.predict) => call('/v2/models/iris_signed/infer', { method: 'POST', key, body });
    // No policy yet: the latest version answers, and says so.
    let r = await infer();
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('edgeinfer-model-version'), '8');
    const traffic = (method = 'GET', key = KEYS.admin, change) =>
      call('/v2/models/iris_signed/traffic', { method, key, body: change });
    assert.deepEqual((await traffic()).json, {
      model_name: 'iris_signed',
      versions: ['7', '8'],
      policy: null,
      source: 'none',
      refresh_seconds: 10,
    });
    assert.equal((await traffic('PUT', KEYS.predict, { production: '7' })).status, 403);
    const bad = await traffic('PUT', KEYS.admin, { production: '7', candidate: '9' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(
      bad.json.error,
      /candidate is version '9', which is not served; the versions of 'iris_signed' are 7, 8/,
    );
    assert.equal((await traffic()).json.source, 'none');

    // Version 7 in production, 8 the candidate, on every request as a shadow.
    const set = await traffic('PUT', KEYS.admin, { production: '7', candidate: '8', shadow: 100 });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json.policy, { production: '7', candidate: '8', canary: 0, shadow: 100, sticky: 'principal' });
    for (let i = 0; i < 5; i++) {
      r = await infer();
      assert.equal(r.headers.get('edgeinfer-model-version'), '7');
      assert.equal(r.json.model_version, '7');
    }
    // The shadows run after each response; the two versions are the same model.
    let pair;
    for (let tries = 0; tries < 40 && !(pair?.requests >= 5); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      [pair] = (await call('/v2/models/iris_signed/compare', { key: KEYS.metrics })).json.shadows;
    }
    assert.equal(pair.production, '7');
    assert.equal(pair.candidate, '8');
    assert.ok(pair.requests >= 5, JSON.stringify(pair));
    assert.equal(pair.candidate_failures, 0);
    assert.equal(pair.label_agreement, 1);
    assert.deepEqual(pair.score_difference, { mean: 0, max: 0 });
    // Every caller to the candidate, then back: a rollback is one PUT.
    assert.equal((await traffic('PUT', KEYS.admin, { canary: 100, shadow: 0 })).status, 200);
    assert.equal((await infer()).headers.get('edgeinfer-model-version'), '8');
    assert.equal((await infer(KEYS.mobile)).headers.get('edgeinfer-model-version'), '8');
    assert.equal((await traffic('PUT', KEYS.admin, { canary: 0 })).status, 200);
    assert.equal((await infer()).headers.get('edgeinfer-model-version'), '7');
    const now = await traffic();
    assert.equal(now.json.source, 'kv');
    assert.equal(now.json.policy.canary, 0);
    // A pinned version is never moved.
    const pinned = await call('/v2/models/iris_signed/versions/8/infer', { method: 'POST', key: KEYS.predict, body });
    assert.equal(pinned.headers.get('edgeinfer-model-version'), '8');
    assert.match(server.output(), /"audit":"traffic","model":"iris_signed","by":"ops"/);
  });

  test('output selection, id echo and versions', async () => {
    const c = fixtures().cases.find((x) => x.name === 'recommender_topk#0');
    const r = await call('/v2/models/recommender_topk/versions/1/infer', {
      method: 'POST',
      key: KEYS.predict,
      body: v2Request(c, { id: 'req-42', outputs: [{ name: 'top_items' }] }),
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, 'req-42');
    assert.equal(r.json.model_name, 'recommender_topk');
    assert.equal(r.json.model_version, '1');
    assert.deepEqual(
      r.json.outputs.map((o) => o.name),
      ['top_items'],
    );
    assert.deepEqual(r.json.outputs[0].data, Array.from(c.outputs.top_items.data, Number));
  });

  test('50 concurrent requests, across every model, get their own onnxruntime answers', async () => {
    const cases = fixtures().cases;
    const picked = Array.from({ length: 50 }, (_, i) => cases[(i * 7) % cases.length]);
    const answers = await Promise.all(
      picked.map((c, i) =>
        call(`/v2/models/${c.modelName}/infer`, {
          method: 'POST',
          key: KEYS.predict,
          body: v2Request(c, { id: `concurrent-${i}` }),
        }),
      ),
    );
    for (const [i, r] of answers.entries()) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.id, `concurrent-${i}`);
      assertAsOnnxruntime(picked[i], r.json);
    }
  });
});

describe('/predict with records', () => {
  test('instances by feature name and as rows, and columnar inputs', async () => {
    const iris = [
      { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
      { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 },
    ];
    const byName = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: { model: 'iris', instances: iris },
    });
    assert.equal(byName.status, 200, byName.text);
    assert.deepEqual(
      byName.json.predictions.map((p) => p.label),
      [0, 2],
    );
    assert.equal(byName.json.predictions[0].probabilities.length, 3);
    const rows = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: { model: 'iris', instances: iris.map(Object.values) },
    });
    assert.deepEqual(rows.json.predictions, byName.json.predictions);
    assert.notEqual(rows.json.id, byName.json.id, 'each answer has its own prediction id');
    const columns = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: { model: 'iris', inputs: { features: iris.map(Object.values) } },
    });
    assert.equal(columns.status, 200, columns.text);
    assert.deepEqual(columns.json.outputs.label, [0, 2]);
  });

  test('records that do not fit the model are 422 naming the feature', async () => {
    const missing = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: { model: 'iris', instances: [{ sepal_length: 1 }] },
    });
    assert.equal(missing.status, 422);
    assert.match(missing.json.error, /lacks feature 'sepal_width'/);
    const unknown = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: {
        model: 'iris',
        instances: [{ sepal_length: 1, sepal_width: 1, petal_length: 1, petal_width: 1, colour: 2 }],
      },
    });
    assert.equal(unknown.status, 422);
    assert.match(unknown.json.error, /unknown feature 'colour'/);
    const short = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: { model: 'iris', instances: [[1, 2, 3]] },
    });
    assert.equal(short.status, 422);
    assert.match(short.json.error, /3 values, expected 4/);
    const neither = await call('/predict', { method: 'POST', key: KEYS.predict, body: { model: 'iris' } });
    assert.equal(neither.status, 400);
  });
});

describe('access control', () => {
  const infer = (auth) =>
    call('/v2/models/mlp_tabular/infer', {
      method: 'POST',
      ...auth,
      body: { inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0.5) }] },
    });

  test('rate limits: a key past its binding gets 429 with Retry-After, counted; others go on', async () => {
    // TIGHT allows 5 requests a minute: a 429 comes within 11, even if a window ends midway.
    let limited;
    for (let i = 0; i < 11 && !limited; i++) {
      const r = await infer({ key: KEYS.metered });
      if (r.status === 429) limited = r;
      else assert.equal(r.status, 200, r.text);
    }
    assert.ok(limited, 'the sixth request in a window is refused');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After: ${retry}`);
    assert.match(
      limited.json.error,
      /^rate limit reached: 'metered' made more requests than the limit 'TIGHT' allows in 60 s; retry after \d+ s$/,
    );
    assert.equal((await infer({ key: KEYS.predict })).status, 200, 'another key is not limited');
    const metrics = (await call('/metrics', { key: KEYS.metrics })).text;
    assert.match(metrics, /^edgeinfer_rate_limited_total\{limit="TIGHT",principal="metered",isolate="[^"]+"\} [1-9]/m);
    // A key naming a binding the Worker lacks: a deployment mistake, told to the logs only.
    const unbound = await infer({ key: KEYS.unbound });
    assert.equal(unbound.status, 500);
    assert.doesNotMatch(unbound.text, /NOT_BOUND/);
    const logged = /API key 'unbound' names the rate limit binding 'NOT_BOUND', which the Worker does not have/;
    for (let i = 0; i < 40 && !logged.test(server.output()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(server.output(), logged);
  });

  test('rate limits without the binding: a Durable Object counts exactly, per key, in one window', async () => {
    // Four requests a minute: the fifth in a window is refused. A window may end midway, so
    // count the 200s before the first 429 (4 in one window, at most 8 across two).
    const answers = [];
    while (answers.length < 10 && answers.at(-1)?.status !== 429) answers.push(await infer({ key: KEYS.counted }));
    const statuses = answers.map((r) => r.status);
    const refused = answers.at(-1);
    assert.equal(refused.status, 429, String(statuses));
    assert.ok(
      statuses.slice(0, -1).every((s) => s === 200) && statuses.length >= 5 && statuses.length <= 9,
      String(statuses),
    );
    assert.match(
      refused.json.error,
      /^rate limit reached: 'counted' made more requests than the limit 'COUNTED' allows in 60 s/,
    );
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal((await infer({ key: KEYS.predict })).status, 200, 'another key is not limited');
    const metrics = (await call('/metrics', { key: KEYS.metrics })).text;
    assert.match(
      metrics,
      /^edgeinfer_rate_limited_total\{limit="COUNTED",principal="counted",isolate="[^"]+"\} [1-9]/m,
    );
  });

  test('API keys: none, wrong, each scope, admin', async () => {
    const none = await infer({});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await infer({ key: 'not-a-valid-key-at-all-0000' })).status, 401);
    assert.equal((await infer({ key: KEYS.predict })).status, 200);
    assert.equal((await infer({ key: KEYS.metrics })).status, 403);
    assert.equal((await infer({ key: KEYS.admin })).status, 200);
    assert.equal((await call('/metrics', { key: KEYS.metrics })).status, 200);
    const denied = await call('/metrics', { key: KEYS.predict });
    assert.equal(denied.status, 403);
    assert.match(denied.json.error, /'web' lack the 'metrics' scope/);
    assert.equal((await call('/metrics', { key: KEYS.admin })).status, 200);
    assert.equal((await call('/v2/models/mlp_tabular')).status, 401, 'metadata is not public by default');
    assert.equal((await call('/v2/health/live')).status, 200, 'health is public');
    const malformed = await call('/metrics', { headers: { authorization: 'Basic abc' } });
    assert.equal(malformed.status, 401);
  });

  test('JWTs: HS256 and EdDSA, expired, not yet valid, wrong audience, tampered, unsigned', async () => {
    assert.equal((await infer({ token: await jwt({ scope: 'predict' }) })).status, 200);
    assert.equal((await infer({ token: await jwt({ scope: 'predict' }, { alg: 'EdDSA' }) })).status, 200);
    assert.equal((await infer({ token: await jwt({ scope: 'metrics' }) })).status, 403);
    const expired = await infer({
      token: await jwt({ scope: 'predict' }, { expires: Math.floor(Date.now() / 1000) - 60 }),
    });
    assert.equal(expired.status, 401);
    assert.match(expired.json.error, /expired/);
    const early = await infer({
      token: await jwt({ scope: 'predict' }, { notBefore: Math.floor(Date.now() / 1000) + 3600 }),
    });
    assert.equal(early.status, 401);
    const aud = await infer({ token: await jwt({ scope: 'predict' }, { audience: 'someone-else' }) });
    assert.equal(aud.status, 401);
    assert.match(aud.json.error, /aud/);
    const good = await jwt({ scope: 'predict' });
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), scope: 'admin' })).toString(
      'base64url',
    );
    const tampered = await infer({ token: `${h}.${forged}.${s}` });
    assert.equal(tampered.status, 401);
    assert.match(tampered.json.error, /bad signature|cannot be verified/);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    assert.equal((await infer({ token: none })).status, 401);
    const forever = await infer({ token: await jwt({ scope: 'predict' }, { expires: null }) });
    assert.equal(forever.status, 401, 'a token without exp never expires: refused');
    assert.match(forever.json.error, /"exp" claim/);
    const edExpired = await infer({
      token: await jwt({ scope: 'predict' }, { alg: 'EdDSA', expires: Math.floor(Date.now() / 1000) - 60 }),
    });
    assert.equal(edExpired.status, 401);
    assert.match(edExpired.json.error, /expired/);
    const ed = await jwt({ scope: 'predict' }, { alg: 'EdDSA' });
    const [eh, ep, es] = ed.split('.');
    const edForged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(ep, 'base64url')), scope: 'admin' }),
    ).toString('base64url');
    const edTampered = await infer({ token: `${eh}.${edForged}.${es}` });
    assert.equal(edTampered.status, 401);
    assert.match(edTampered.json.error, /bad signature|cannot be verified/);
  });

  test('CORS: the allowed origin only', async () => {
    const pre = await call('/v2/models/mlp_tabular/infer', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(pre.headers.get('access-control-allow-headers'), /authorization/);
    const other = await call('/v2/models/mlp_tabular/infer', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const real = await call('/v2/health/live', { headers: { origin: ORIGIN } });
    assert.equal(real.headers.get('access-control-allow-origin'), ORIGIN);
  });
});

describe('bad requests', () => {
  const post = (path, body, extra = {}) => call(path, { method: 'POST', key: KEYS.predict, body, ...extra });
  const x = (over = {}) => ({
    inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', data: new Array(32).fill(0.1), ...over }],
  });

  test('each gets its status and a JSON error naming the problem', async () => {
    const cases = [
      [
        () =>
          post('/v2/models/mlp_tabular/infer', undefined, {
            raw: '{"inputs": [',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        /malformed JSON/,
      ],
      [
        () =>
          post('/v2/models/mlp_tabular/infer', undefined, {
            raw: 'x=1',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        415,
        /content-type must be application\/json/,
      ],
      [
        () =>
          post('/v2/models/mlp_tabular/infer', undefined, {
            raw: JSON.stringify(x()),
            headers: { 'content-type': 'text/plain' },
          }),
        415,
        /got 'text\/plain'/,
      ],
      [() => post('/v2/models/mlp_tabular/infer', { inputs: 'x' }), 400, /'inputs' must be a non-empty array/],
      [() => post('/v2/models/mlp_tabular/infer', x({ datatype: 'FLOAT' })), 400, /datatype "FLOAT" is not one of/],
      [
        () => post('/v2/models/mlp_tabular/infer', x({ datatype: 'INT64', data: new Array(32).fill(1) })),
        422,
        /E_INPUT_DTYPE.*'x'.*float32/,
      ],
      [() => post('/v2/models/mlp_tabular/infer', x({ shape: [2, 32] })), 400, /needs 64 values, got 32/],
      [
        () => post('/v2/models/mlp_tabular/infer', x({ shape: [1, 16], data: new Array(16).fill(0) })),
        422,
        /E_INPUT_SHAPE.*dimension 1 is 16, expected 32/,
      ],
      [() => post('/v2/models/mlp_tabular/infer', x({ shape: [-1, 32] })), 400, /non-negative integers/],
      [
        () => post('/v2/models/mlp_tabular/infer', x({ data: [...new Array(31).fill(0.1), 'a'] })),
        422,
        /E_INPUT_DTYPE/,
      ],
      [() => post('/v2/models/mlp_tabular/infer', x({ name: 'y' })), 422, /E_INPUT_UNKNOWN.*'y'/],
      [() => post('/v2/models/mlp_tabular/infer', { inputs: [x().inputs[0], x().inputs[0]] }), 400, /given twice/],
      [
        () => post('/v2/models/mlp_tabular/infer', { ...x(), outputs: [{ name: 'nope' }] }),
        400,
        /unknown output 'nope'/,
      ],
      [
        () => post('/v2/models/mlp_tabular/infer', x({ shape: [100, 32], data: new Array(3200).fill(0) })),
        413,
        /100 rows, over the limit of 64/,
      ],
      [
        () =>
          post('/v2/models/image_uint8/infer', {
            inputs: [{ name: 'pixels', shape: [6, 28, 28], datatype: 'UINT8', data: new Array(4704).fill(1) }],
          }),
        413,
        /4704 elements, over the limit of 4096/,
      ],
      [
        () =>
          post('/v2/models/mlp_tabular/infer', undefined, {
            raw: JSON.stringify({ pad: 'x'.repeat(250000) }),
            headers: { 'content-type': 'application/json' },
          }),
        413,
        /over the limit of 200000 bytes/,
      ],
      [
        () =>
          post('/v2/models/recommender_topk/infer', {
            inputs: [{ name: 'liked', shape: [1, 2], datatype: 'INT64', data: [1, 2.5] }],
          }),
        422,
        /E_INPUT_VALUE.*element 1 is 2.5/,
      ],
      [() => post('/v2/models/nope/infer', x()), 404, /unknown model 'nope'/],
      [() => post('/v2/models/mlp_tabular/versions/7/infer', x()), 404, /no version '7'/],
      [() => call('/v3/anything', { key: KEYS.predict }), 404, /no route/],
      [() => call('/v2/models/mlp_tabular/infer', { key: KEYS.predict }), 405, /GET is not allowed.*POST/],
      [() => call('/v2/health/live', { method: 'DELETE' }), 405, /DELETE is not allowed/],
      [() => call('/v2/models/%E0%A4%A/ready', { key: KEYS.predict }), 400, /not valid percent-encoding/],
      [
        () =>
          post('/v2/models/recommender_topk/infer', {
            inputs: [{ name: 'liked', shape: [1, 2], datatype: 'INT64', data: [1, 99999] }],
          }),
        422,
        /E_RUNTIME.*index 99999 is out of range/,
      ],
      [
        () => post('/predict', { model: 'iris', instances: Array.from({ length: 65 }, () => [1, 2, 3, 4]) }),
        413,
        /65 rows is over the limit of 64/,
      ],
    ];
    for (const [run, status, pattern] of cases) {
      const r = await run();
      assert.equal(r.status, status, `${pattern}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(typeof r.json?.error, 'string', r.text.slice(0, 200));
      assert.match(r.json.error, pattern);
      assert.doesNotMatch(r.text, /at \S+ \(|\.js:\d+/, 'no stack trace');
    }
    // The binary extension's framing, and a body with no declared length (streamed).
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: [{ name: 'x', shape: [1, 32], datatype: 'FP32', parameters: { binary_data_size: 128 } }],
      }),
    );
    const framed = (tail, length = header.length) =>
      call('/v2/models/mlp_tabular/infer', {
        method: 'POST',
        key: KEYS.predict,
        raw: Buffer.concat([header, tail]),
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(length) },
      });
    const binaryCases = [
      [
        await framed(Buffer.alloc(128), header.length + 500),
        /Inference-Header-Content-Length is \d+, but the body has \d+ bytes/,
      ],
      [await framed(Buffer.alloc(64)), /binary_data_size 128 runs past the end of the body/],
    ];
    for (const [r, pattern] of binaryCases) {
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.error, pattern);
    }
    assert.equal((await framed(Buffer.from(new Float32Array(32).fill(0.5).buffer))).status, 200, 'well-framed binary');
    const chunks = [
      new TextEncoder().encode('{"pad": "'),
      new TextEncoder().encode('x'.repeat(250000)),
      new TextEncoder().encode('"}'),
    ];
    const stream = new ReadableStream({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const streamed = await fetch(`${base}/v2/models/mlp_tabular/infer`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { authorization: `Bearer ${KEYS.predict}`, 'content-type': 'application/json' },
    });
    assert.equal(streamed.status, 413);
    assert.match((await streamed.json()).error, /request body (of \d+ bytes )?is over the limit of 200000 bytes/);
    const wrongMethod = await call('/v2/models/mlp_tabular/infer', { key: KEYS.predict });
    assert.match(wrongMethod.headers.get('allow'), /POST/);
    const still = await post('/v2/models/mlp_tabular/infer', x());
    assert.equal(still.status, 200, 'still serving');
  });
});

describe('monitoring', () => {
  const iris = [
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.0, 5.2, 0.987654],
  ];
  const inferIris = (extra = {}) =>
    call('/v2/models/iris/infer', {
      method: 'POST',
      key: KEYS.predict,
      body: { ...extra, inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: iris.flat() }] },
    });
  const feedback = (body, key = KEYS.predict, path = '/v2/models/iris/feedback') =>
    call(path, { method: 'POST', key, body });

  test('infer responses carry a prediction id that feedback joins ground truth to', async () => {
    const r = await inferIris();
    assert.equal(r.status, 200, r.text);
    const id = r.json.parameters.prediction_id;
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{24}$/);
    assert.equal(r.json.id, id, 'no request id: the prediction id is the response id');
    const echoed = await inferIris({ id: 'req-7' });
    assert.equal(echoed.json.id, 'req-7');
    assert.notEqual(echoed.json.parameters.prediction_id, id);
    const labels = r.json.outputs.find((o) => o.name === 'label').data;
    const joined = await feedback({ id, labels });
    assert.equal(joined.status, 200, joined.text);
    assert.deepEqual(joined.json, { model_name: 'iris', model_version: '1', id, joined: 2 });
    assert.equal((await feedback({ id, labels })).json.joined, 0, 'the same labels again: nothing new');
    const one = await call('/predict', {
      method: 'POST',
      key: KEYS.predict,
      body: { model: 'iris', instances: [iris[0]] },
    });
    assert.match(one.json.id, /^[0-9a-f]{8}-[0-9a-f]{24}$/);
    assert.equal((await feedback({ id: one.json.id, label: 1 })).json.joined, 1);
    const stats = await call('/v2/models/iris/monitoring/stats', { key: KEYS.metrics });
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.json.quality.task, 'classification');
    assert.equal(stats.json.quality.rows, 3);
    assert.ok(Math.abs(stats.json.quality.accuracy - 2 / 3) < 1e-12, JSON.stringify(stats.json.quality));
    assert.ok(stats.json.predictions >= 3);
  });

  test('feedback refusals: unknown ids 404, wrong labels 422, malformed 400, scope 403', async () => {
    const r = await inferIris();
    const id = r.json.parameters.prediction_id;
    const cases = [
      [{ id: 'nope', label: 1 }, KEYS.predict, 404, /E_PREDICTION_UNKNOWN.*no prediction 'nope'/],
      [
        { id: `${id.split('-')[0]}-${'0'.repeat(24)}`, label: 1 },
        KEYS.predict,
        404,
        /E_PREDICTION_UNKNOWN.*no prediction/,
      ],
      [{ id, labels: [1] }, KEYS.predict, 422, /E_FEEDBACK_INVALID.*2 rows, got 1 label/],
      [{ id, labels: [{}, 1] }, KEYS.predict, 422, /E_FEEDBACK_INVALID/],
      [{ id }, KEYS.predict, 400, /either 'label'.*or 'labels'/],
      [{ label: 1 }, KEYS.predict, 400, /'id' must be/],
      [{ id, labels: [0, 1] }, KEYS.metrics, 403, /lack the 'predict' scope/],
    ];
    for (const [body, key, status, pattern] of cases) {
      const f = await feedback(body, key);
      assert.equal(f.status, status, `${JSON.stringify(body)}: ${f.text}`);
      assert.match(f.json.error, pattern);
    }
    assert.equal((await feedback({ id, labels: [0, 1] }, KEYS.predict, '/v2/models/nope/feedback')).status, 404);
    const none = await call('/v2/models/recommender_topk/feedback', {
      method: 'POST',
      key: KEYS.predict,
      body: { id, label: 1 },
    });
    assert.equal(none.status, 404, 'another model does not hold this id');
  });

  test('ids cannot be guessed, and only the caller who made a prediction labels it', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await inferIris()).json.parameters.prediction_id);
    const [prefix] = ids[0].split('-');
    assert.ok(
      ids.every((id) => id.startsWith(`${prefix}-`)),
      'one isolate, one prefix',
    );
    const tokens = ids.map((id) => BigInt(`0x${id.split('-')[1]}`));
    assert.equal(new Set(tokens).size, 4);
    for (let i = 1; i < 4; i++) {
      const diff = tokens[i] > tokens[i - 1] ? tokens[i] - tokens[i - 1] : tokens[i - 1] - tokens[i];
      assert.ok(diff > 1n << 40n, `consecutive ids ${ids[i - 1]} and ${ids[i]} are far apart`);
    }
    const [id] = ids;
    // Another client with the predict scope: refused exactly as for an id that does not exist,
    // with nothing of the prediction (its rows, its labels) in the answer.
    const foreign = await feedback({ id, labels: [1, 1] }, KEYS.mobile);
    const missing = await feedback({ id: `${prefix}-${'0'.repeat(24)}`, labels: [1, 1] }, KEYS.mobile);
    assert.equal(foreign.status, 404, foreign.text);
    assert.equal(foreign.json.error, missing.json.error.replace(`${prefix}-${'0'.repeat(24)}`, id));
    assert.doesNotMatch(foreign.json.error, /rows|label '/);
    // The owner's labels are then taken, not refused as "already labelled".
    const owner = await feedback({ id, labels: [0, 2] });
    assert.equal(owner.status, 200, owner.text);
    assert.equal(owner.json.joined, 2);
    // A caller with feedback:any (a labelling pipeline) labels anyone's predictions.
    const pipeline = await feedback({ id: ids[1], labels: [0, 2] }, KEYS.labeller);
    assert.equal(pipeline.status, 200, pipeline.text);
    assert.equal(pipeline.json.joined, 2);
  });

  test('drift against the reference the CLI made, per feature, with the predictions', async () => {
    // Rows like the reference's, then rows with one feature moved.
    const rows = (n, shift) =>
      Array.from({ length: n }, (_, i) =>
        Array.from({ length: 32 }, (_, j) => Math.sin((i + 5000) * 31 + j) + (j === 4 ? shift : 0)),
      );
    for (let i = 0; i < 10; i++) {
      const data = rows(50, i < 5 ? 0 : 0.8).flat();
      const r = await call('/v2/models/mlp_tabular/infer', {
        method: 'POST',
        key: KEYS.predict,
        body: { inputs: [{ name: 'x', shape: [50, 32], datatype: 'FP32', data }] },
      });
      assert.equal(r.status, 200, r.text);
    }
    const d = await call('/v2/models/mlp_tabular/monitoring/drift', { key: KEYS.metrics });
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.model_name, 'mlp_tabular');
    assert.equal(d.json.features.length, 32);
    assert.equal(d.json.features[4].name, 'x[4]');
    assert.deepEqual(d.json.unmonitored, []);
    assert.equal(d.json.prediction.name, 'y');
    assert.equal(d.json.features[4].status, 'drift', JSON.stringify(d.json.features[4]));
    assert.equal(d.json.status, 'drift');
    assert.equal(
      (await call('/v2/models/mlp_tabular/monitoring/drift', { key: KEYS.predict })).status,
      403,
      'drift needs the metrics scope',
    );
    const noRef = await call('/v2/models/iris/monitoring/drift', { key: KEYS.metrics });
    assert.equal(noRef.status, 200);
    assert.deepEqual(noRef.json.features, []);
    // No reference: the first window of predictions becomes the baseline, still filling here.
    assert.equal(noRef.json.status, 'collecting_baseline', JSON.stringify(noRef.json));
    assert.equal(noRef.json.prediction.name, 'label');
    const irisRows = (await call('/v2/models/iris/monitoring/stats', { key: KEYS.metrics })).json.rows;
    assert.equal(noRef.json.prediction.baselineRows, irisRows, 'every row predicted so far is in the baseline');
    assert.equal(noRef.json.prediction.baselineNeeded, 1000);
  });

  test('prediction logs go to Workers Logs, without the redacted feature', async () => {
    const r = await inferIris();
    const id = r.json.parameters.prediction_id;
    let line;
    for (let i = 0; i < 50 && !line; i++) {
      line = server
        .output()
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.includes(`"id":"${id}"`));
      if (!line) await new Promise((done) => setTimeout(done, 100));
    }
    assert.ok(line, `no log line for ${id} in the Worker's output`);
    const parsed = JSON.parse(line.slice(line.indexOf('{')));
    assert.equal(parsed.model, 'iris');
    assert.equal(parsed.version, '1');
    assert.deepEqual(parsed.inputs.sepal_length, [5.1, 6.7], 'the inputs as sent');
    const logged = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"model":"iris"'));
    assert.ok(logged.length >= 3, `${logged.length} iris log lines`);
    for (const l of logged)
      assert.ok(!l.includes('petal_width') && !l.includes('0.98765'), `a redacted feature was logged: ${l}`);
  });
});

/**
 * /metrics, with the isolate label taken out of its text after checking that every sample
 * has it, with one value: wrangler dev runs one isolate.
 */
async function metrics() {
  const r = await call('/metrics', { key: KEYS.metrics });
  const sampled = r.text.split('\n').filter((l) => l && !l.startsWith('#'));
  const ids = new Set(sampled.map((l) => /[{,]isolate="([0-9a-f]{12})"[,}]/.exec(l)?.[1]));
  assert.equal(ids.size, 1, `isolates: ${[...ids]}`);
  assert.ok(!ids.has(undefined), 'every sample has its isolate');
  return { ...r, text: r.text.replace(/,?isolate="[0-9a-f]{12}"/g, '').replace(/\{,/g, '{') };
}

describe('metrics', () => {
  test('Prometheus text with requests by route and status, latency and load time', async () => {
    const r = await metrics();
    assert.match(r.headers.get('content-type'), /text\/plain/);
    assert.match(r.text, /# TYPE edgeinfer_http_requests_total counter/);
    const infer200 = /edgeinfer_http_requests_total\{route="infer",status="200"\} (\d+)/.exec(r.text);
    assert.ok(infer200 && Number(infer200[1]) >= 50, 'the concurrent requests were counted');
    assert.match(r.text, /edgeinfer_http_requests_total\{route="infer",status="401"\} \d+/);
    assert.match(r.text, /edgeinfer_http_request_duration_seconds_bucket\{route="infer",le="\+Inf"\} \d+/);
    assert.match(r.text, /edgeinfer_model_load_seconds\{model="mlp_tabular",version="1"\} [\d.e-]+/);
  });

  test("the models' monitoring families, once each, labelled by model and version", async () => {
    const r = await metrics();
    const predictions = [...r.text.matchAll(/^edgeinfer_predictions_total\{model="[^"]+",version="1"\} (\d+)$/gm)].map(
      (m) => Number(m[1]),
    );
    assert.ok(predictions.length >= MODELS.length, `${predictions.length} models counted`);
    assert.ok(
      predictions.reduce((a, b) => a + b, 0) >= 50 + 21,
      'the corpus cases and the concurrent requests were predictions',
    );
    assert.match(r.text, /edgeinfer_predict_errors_total\{model="mlp_tabular",version="1",code="E_INPUT_SHAPE"\} \d+/);
    assert.match(r.text, /edgeinfer_predict_duration_seconds_bucket\{model="iris",version="1",le="\+Inf"\} \d+/);
    assert.match(r.text, /edgeinfer_predict_batch_size_bucket\{model="recommender_topk",version="1",le="1"\} \d+/);
    assert.match(r.text, /edgeinfer_quality_accuracy\{model="iris",version="1"\} [\d.]+/);
    assert.match(
      r.text,
      /edgeinfer_drift_feature_detected\{model="mlp_tabular",version="1",feature="x\[4\]",kind="feature"\} 1/,
    );
    for (const family of [
      'edgeinfer_predictions_total',
      'edgeinfer_predict_duration_seconds',
      'edgeinfer_drift_detected',
    ]) {
      assert.equal(
        r.text
          .split('\n')
          .filter(
            (l) =>
              l ===
              `# TYPE ${family} ${family === 'edgeinfer_predict_duration_seconds' ? 'histogram' : family.endsWith('_total') ? 'counter' : 'gauge'}`,
          ).length,
        1,
        family,
      );
    }
    // Every sample line belongs to the family whose TYPE came last.
    let family = null;
    for (const line of r.text.split('\n').filter(Boolean)) {
      const type = /^# TYPE (\S+)/.exec(line);
      if (type) family = type[1];
      else if (!line.startsWith('#')) assert.ok(line.startsWith(family), `${line} outside its family ${family}`);
    }
  });

  test('the counters rise with the requests, and no rate is precomputed', async () => {
    const count = (text, series) => Number(new RegExp(`^${series} (\\d+)$`, 'm').exec(text)?.[1]);
    const rows = 'edgeinfer_predict_rows_total\\{model="mlp_tabular",version="1"\\}';
    const requests = 'edgeinfer_http_requests_total\\{route="infer",status="200"\\}';
    const before = (await metrics()).text;
    for (const n of [2, 3]) {
      const r = await call('/v2/models/mlp_tabular/infer', {
        method: 'POST',
        key: KEYS.predict,
        body: { inputs: [{ name: 'x', shape: [n, 32], datatype: 'FP32', data: new Array(n * 32).fill(0.25) }] },
      });
      assert.equal(r.status, 200, r.text);
    }
    const after = (await metrics()).text;
    assert.equal(count(after, rows) - count(before, rows), 5, 'rows predicted');
    assert.equal(count(after, requests) - count(before, requests), 2, 'infer requests answered');
    assert.match(after, /^# TYPE edgeinfer_predict_rows_total counter$/m);
    assert.doesNotMatch(after, /per_second/);
  });
});

test("no secret ever appears in a response or in the Worker's logs", () => {
  const responses = seen.join('\n');
  const logs = server.output();
  assert.ok(seen.length > 100 && logs.includes('"model":"iris"'), 'the responses and logs were collected');
  assert.ok(tokens.length >= 8, `${tokens.length} JWTs sent`);
  for (const secret of [...Object.values(KEYS), HS_SECRET, ...tokens]) {
    assert.ok(!responses.includes(secret), 'a secret leaked into a response');
    assert.ok(!logs.includes(secret), 'a secret leaked into the logs');
  }
});

test("a standard v2 client (Triton's tritonclient.http) works unchanged, JSON and binary", () => {
  const python = join(root, '.cache/venv/bin/python');
  const out = execFileSync(python, ['tests/python/v2_client_against_worker.py', '-v'], {
    cwd: root,
    env: {
      ...process.env,
      EDGEINFER_V2_URL: base.replace('http://', ''),
      EDGEINFER_V2_KEY: KEYS.predict,
      EDGEINFER_V2_METRICS_KEY: KEYS.metrics,
      EDGEINFER_CORPUS: corpusDir(),
    },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  void out;
});
