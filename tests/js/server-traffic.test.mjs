// Traffic policies of edgeinfer/server: canary and shadow traffic between versions of a model,
// and policy changes through a KV namespace (Cloudflare's own, through Miniflare), seen by
// every isolate. Driven in Node with Request objects, as server-stats.test.mjs does.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Miniflare } from 'miniflare';
import { corpusDir, importPackage, packageDir, root } from './harness.mjs';

const KEYS = {
  web: 'pk-web-0123456789abcdef',
  mobile: 'pk-mobile-0123456789abcdef',
  ops: 'pk-ops-0123456789abcdef',
  prometheus: 'pk-prometheus-0123456789abcdef',
};
const API_KEYS = JSON.stringify([
  { name: 'web', key: KEYS.web, scopes: ['predict'] },
  { name: 'mobile', key: KEYS.mobile, scopes: ['predict'] },
  { name: 'ops', key: KEYS.ops, scopes: ['admin'] },
  { name: 'prometheus', key: KEYS.prometheus, scopes: ['metrics'] },
]);

const miniflare = new Miniflare({
  modules: true,
  script: 'export default { fetch: () => new Response("") }',
  kvNamespaces: ['TRAFFIC'],
});
after(() => miniflare.dispose());

/**
 * A handler (an isolate, as far as the server can tell) serving mlp_tabular as versions 1 and
 * 2 (the same model) and 3 (iris: a candidate that fails on mlp_tabular's inputs), and a
 * client of it.
 */
async function serve(traffic, env = {}) {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const mlp = readFileSync(join(corpusDir(), 'mlp_tabular.onnx'));
  const iris = readFileSync(join(root, 'examples/iris.onnx'));
  const load = (bytes) => (options) => Model.load(bytes, options);
  const h = createHandler({
    models: [
      { name: 'mlp_tabular', version: '1', load: load(mlp) },
      { name: 'mlp_tabular', version: '2', load: load(mlp) },
      { name: 'mlp_tabular', version: '3', load: load(iris) },
    ],
    traffic,
  });
  const pending = [];
  const call = async (path, { key = KEYS.web, body, method = body ? 'POST' : 'GET', headers = {} } = {}) => {
    const request = new Request(`http://worker.test${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body && { 'content-type': 'application/json' }), ...headers },
      body: body && JSON.stringify(body),
    });
    const r = await h.fetch(request, { API_KEYS, ...env }, { waitUntil: (p) => pending.push(p) });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* the Prometheus text */
    }
    return { status: r.status, text, json, version: r.headers.get('edgeinfer-model-version') };
  };
  /** Waits for the shadow requests started so far. */
  call.settled = async () => {
    while (pending.length) await Promise.all(pending.splice(0));
  };
  return call;
}

const row = (seed) => ({
  inputs: [
    { name: 'x', shape: [1, 32], datatype: 'FP32', data: Array.from({ length: 32 }, (_, i) => (i + seed) / 50) },
  ],
});
const infer = (call, user, options = {}) =>
  call('/v2/models/mlp_tabular/infer', { body: row(user.length), headers: { 'x-user-id': user }, ...options });

test('canary: the candidate answers its share of callers, each caller always the same version', async () => {
  const call = await serve({
    mlp_tabular: { production: '1', candidate: '2', canary: 10, sticky: 'header:x-user-id' },
  });
  const byUser = new Map();
  let candidate = 0;
  for (let round = 0; round < 10; round++)
    for (let u = 0; u < 200; u++) {
      const r = await infer(call, `user-${u}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.model_version, r.version);
      if (r.version === '2') candidate++;
      byUser.set(u, new Set([...(byUser.get(u) ?? []), r.version]));
    }
  const share = (100 * candidate) / 2000;
  assert.ok(Math.abs(share - 10) <= 3, `the candidate answered ${share}% of 2,000 requests`);
  for (const [u, versions] of byUser) assert.equal(versions.size, 1, `user-${u} got versions ${[...versions]}`);
  // /predict follows the same policy for the same caller; a version in the path is pinned.
  const someCandidateUser = [...byUser].find(([, v]) => v.has('2'))[0];
  const predicted = await call('/predict', {
    body: { model: 'mlp_tabular', instances: [Array(32).fill(0.5)] },
    headers: { 'x-user-id': `user-${someCandidateUser}` },
  });
  assert.equal(predicted.status, 200, predicted.text);
  assert.equal(predicted.version, '2');
  const pinned = await call('/v2/models/mlp_tabular/versions/1/infer', {
    body: row(1),
    headers: { 'x-user-id': `user-${someCandidateUser}` },
  });
  assert.equal(pinned.version, '1');
  // Without the header, the caller's own name is the sticky key: one version, every time.
  const own = new Set();
  for (let i = 0; i < 20; i++) own.add((await call('/v2/models/mlp_tabular/infer', { body: row(i) })).version);
  assert.equal(own.size, 1);
});

test('shadow traffic never changes a response, and a failing candidate never fails one', async () => {
  for (const [candidate, fails] of [
    ['2', false],
    ['3', true],
  ]) {
    const call = await serve({ mlp_tabular: { production: '1', candidate, shadow: 100 } });
    for (let i = 0; i < 20; i++) {
      const shadowed = await infer(call, `user-${i}`);
      const pinned = await call('/v2/models/mlp_tabular/versions/1/infer', { body: row(`user-${i}`.length) });
      assert.equal(shadowed.status, 200, shadowed.text);
      assert.equal(shadowed.version, '1');
      assert.deepEqual(shadowed.json.outputs, pinned.json.outputs);
    }
    await call.settled();
    const report = await call('/v2/models/mlp_tabular/compare', { key: KEYS.prometheus });
    assert.equal(report.status, 200, report.text);
    const [pair] = report.json.shadows;
    assert.equal(pair.production, '1');
    assert.equal(pair.candidate, candidate);
    // The pinned requests name a version, so no policy applies to them: only 20 shadowed.
    assert.equal(pair.requests, 20);
    assert.equal(pair.candidate_failures, fails ? 20 : 0);
    if (fails) assert.equal(pair.latency_ms, null);
    else {
      // The same model: every score compared, none different.
      assert.ok(pair.scores_compared >= 20, JSON.stringify(pair));
      assert.deepEqual(pair.score_difference, { mean: 0, max: 0 });
      assert.ok(pair.latency_ms.production > 0 && pair.latency_ms.candidate > 0);
    }
    const metrics = await call('/metrics', { key: KEYS.prometheus });
    assert.match(
      metrics.text,
      new RegExp(
        `^edgeinfer_shadow_requests_total\\{model="mlp_tabular",production="1",candidate="${candidate}",isolate="[0-9a-f]+"\\} 20$`,
        'm',
      ),
    );
    assert.match(
      metrics.text,
      new RegExp(`^edgeinfer_shadow_failures_total\\{[^}]*candidate="${candidate}"[^}]*\\} ${fails ? 20 : 0}$`, 'm'),
    );
  }
});

test('policies change through KV: checked, audited, seen by every isolate within the refresh', async () => {
  const kv = await miniflare.getKVNamespace('TRAFFIC');
  const env = { TRAFFIC: kv, TRAFFIC_REFRESH_SECONDS: '1' };
  const deployed = { mlp_tabular: { production: '1', candidate: '2' } };
  const [a, b] = [await serve(deployed, env), await serve(deployed, env)];
  const got = await a('/v2/models/mlp_tabular/traffic', { key: KEYS.ops });
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json, {
    model_name: 'mlp_tabular',
    versions: ['1', '2', '3'],
    policy: { production: '1', candidate: '2', canary: 0, shadow: 0, sticky: 'principal' },
    source: 'config',
    refresh_seconds: 1,
  });
  assert.equal((await infer(b, 'someone')).version, '1');

  // Only admin may change (or read) the policy.
  for (const key of [KEYS.web, KEYS.prometheus]) {
    assert.equal(
      (await a('/v2/models/mlp_tabular/traffic', { key, method: 'PUT', body: { canary: 100 } })).status,
      403,
    );
    assert.equal((await a('/v2/models/mlp_tabular/traffic', { key })).status, 403);
  }
  // A policy that does not hold is refused and changes nothing.
  for (const [body, message] of [
    [{ candidate: '9' }, /candidate is version '9', which is not served; the versions of 'mlp_tabular' are 1, 2, 3/],
    [{ canary: 101 }, /canary is a percent from 0 to 100, got 101/],
    [{ canary: '50' }, /canary is a percent from 0 to 100, got "50"/],
    [{ candidate: null, shadow: 5 }, /shadow is 5%, of a candidate: name one/],
    [{ candidate: '1' }, /the candidate is version '1', which is production/],
    [
      { weight: 3 },
      /a traffic policy has no field 'weight'; its fields are production, candidate, canary, shadow, sticky/,
    ],
    [{ sticky: 'cookie:id' }, /sticky is 'principal' or 'header:NAME', got "cookie:id"/],
    [[1], /the request body is a JSON object/],
  ]) {
    const r = await a('/v2/models/mlp_tabular/traffic', { key: KEYS.ops, method: 'PUT', body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.error, message);
  }
  assert.equal((await a('/v2/models/mlp_tabular/traffic', { key: KEYS.ops })).json.source, 'config');
  assert.equal(await kv.get('edgeinfer/traffic/mlp_tabular'), null);
  assert.equal((await a('/v2/models/nope/traffic', { key: KEYS.ops, method: 'PUT', body: {} })).status, 404);

  // Every caller to the candidate, as an audited change.
  const logged = [];
  const log = console.log;
  console.log = (line) => logged.push(line);
  let put;
  try {
    put = await a('/v2/models/mlp_tabular/traffic', { key: KEYS.ops, method: 'PUT', body: { canary: 100 } });
  } finally {
    console.log = log;
  }
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.policy.canary, 100);
  assert.equal(put.json.source, 'kv');
  const audit = JSON.parse(logged.find((l) => l.includes('"audit"')));
  assert.equal(audit.by, 'ops');
  assert.equal(audit.before.canary, 0);
  assert.equal(audit.after.canary, 100);
  assert.deepEqual(await kv.get('edgeinfer/traffic/mlp_tabular', 'json'), put.json.policy);
  assert.equal((await infer(a, 'someone')).version, '2');
  // The other isolate keeps its copy of the policy for up to a refresh (1 s here), then reads
  // KV again.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await infer(b, 'someone')).version, '2');
  assert.equal((await b('/v2/models/mlp_tabular/traffic', { key: KEYS.ops })).json.source, 'kv');

  // Rollback: the canary to 0, from the other isolate.
  const back = await b('/v2/models/mlp_tabular/traffic', { key: KEYS.ops, method: 'PUT', body: { canary: 0 } });
  assert.equal(back.status, 200, back.text);
  assert.equal((await infer(b, 'someone')).version, '1');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.equal((await infer(a, 'someone')).version, '1');

  // A policy in KV that no longer fits what is served (a version since removed) is passed
  // over for the deployed one, and logged.
  await kv.put('edgeinfer/traffic/mlp_tabular', JSON.stringify({ production: '7' }));
  const errors = [];
  const error = console.error;
  console.error = (line) => errors.push(line);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await infer(a, 'someone')).version, '1');
  } finally {
    console.error = error;
  }
  assert.match(errors.join('\n'), /the traffic policy of 'mlp_tabular' in KV is not used: production is version '7'/);
  await kv.delete('edgeinfer/traffic/mlp_tabular');
});

test('shadows wait for an idle moment: under load they queue, and past the queue they are skipped', async () => {
  const call = await serve({ mlp_tabular: { production: '1', candidate: '2', shadow: 100 } });
  await infer(call, 'warm-up');
  await call.settled();
  // 100 requests in flight at once: no shadow runs before the last is answered; 64 wait in
  // the queue and run then, the other 36 are skipped.
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => infer(call, `user-${i}`)));
  assert.ok(answers.every((r) => r.status === 200 && r.version === '1'));
  await call.settled();
  const [pair] = (await call('/v2/models/mlp_tabular/compare', { key: KEYS.prometheus })).json.shadows;
  assert.equal(pair.requests, 1 + 64);
  assert.equal(pair.skipped, 36);
  assert.equal(pair.candidate_failures, 0);
  const metrics = await call('/metrics', { key: KEYS.prometheus });
  assert.match(metrics.text, /^edgeinfer_shadow_skipped_total\{model="mlp_tabular",[^}]*\} 36$/m);
});

test('feedback that names no version reaches the version that made the prediction', async () => {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const iris = readFileSync(join(root, 'examples/iris.onnx'));
  const h = createHandler({
    models: ['1', '2'].map((version) => ({ name: 'iris', version, load: (o) => Model.load(iris, o) })),
    // Every caller to the candidate, version 1 the latest-but-one: feedback to the latest
    // or to production would both miss.
    traffic: { iris: { production: '1', candidate: '2', canary: 100 } },
  });
  const call = async (path, body) => {
    const r = await h.fetch(
      new Request(`http://worker.test${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.web}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
      { API_KEYS },
    );
    return { status: r.status, json: await r.json() };
  };
  const inputs = [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }];
  const predicted = await call('/v2/models/iris/infer', { inputs });
  assert.equal(predicted.json.model_version, '2');
  const feedback = await call('/v2/models/iris/feedback', { id: predicted.json.parameters.prediction_id, label: 0 });
  assert.equal(feedback.status, 200, JSON.stringify(feedback.json));
  assert.equal(feedback.json.model_version, '2');
  assert.equal(feedback.json.joined, 1);
});

test('without a KV namespace a policy cannot change; bad deployed policies are refused at construction', async () => {
  const call = await serve({ mlp_tabular: { production: '2' } });
  const put = await call('/v2/models/mlp_tabular/traffic', { key: KEYS.ops, method: 'PUT', body: { canary: 0 } });
  assert.equal(put.status, 409);
  assert.match(put.json.error, /none is bound as 'TRAFFIC' \(TRAFFIC_KV\)/);
  assert.equal((await infer(call, 'x')).version, '2');
  // Without a policy, the latest version answers, as before policies: iris, which has no input 'x'.
  const latest = await infer(await serve(undefined), 'x');
  assert.equal(latest.status, 422, latest.text);
  assert.match(latest.json.error, /'features'/);
  await assert.rejects(serve({ other: {} }), /traffic names 'other', which is not a model served/);
  await assert.rejects(
    serve({ mlp_tabular: { production: '1', canary: 5 } }),
    /traffic for 'mlp_tabular': canary is 5%, of a candidate: name one/,
  );
});
