// Failed authentications are rate-limited by the caller's address, on Cloudflare's own Rate
// Limiting binding (through Miniflare), in a budget apart from public routes' and from each
// key's: guessing keys gets 429 where it got 401, while valid callers go on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Miniflare } from 'miniflare';
import { importPackage, packageDir, root } from './harness.mjs';
import { readFileSync } from 'node:fs';

const KEY = 'pk-web-0123456789abcdef';
const PROMETHEUS = 'pk-prometheus-0123456789abcdef';
const LIMIT = 3;

const miniflare = new Miniflare({
  modules: true,
  script: 'export default { fetch: () => new Response("") }',
  ratelimits: { GUARD: { simple: { limit: LIMIT, period: 60 } } },
});
after(() => miniflare.dispose());

async function serve(settings = {}) {
  const { createHandler } = await import(pathToFileURL(join(packageDir, 'js/server/index.js')).href);
  const { Model } = await importPackage();
  const iris = readFileSync(join(root, 'examples/iris.onnx'));
  const h = createHandler({ models: [{ name: 'iris', load: (options) => Model.load(iris, options) }] });
  const env = {
    API_KEYS: JSON.stringify([
      { name: 'web', key: KEY, scopes: ['predict'] },
      { name: 'prometheus', key: PROMETHEUS, scopes: ['metrics'] },
    ]),
    RATE_LIMIT: 'GUARD',
    GUARD: (await miniflare.getBindings()).GUARD,
    ...settings,
  };
  return async (path, { key, from }) => {
    const headers = { 'cf-connecting-ip': from, ...(key && { authorization: `Bearer ${key}` }) };
    const r = await h.fetch(new Request(`http://worker.test${path}`, { headers }), env, { waitUntil() {} });
    return { status: r.status, text: await r.text(), retry: r.headers.get('retry-after') };
  };
}

test('failed authentications from one address reach a 429; other addresses and valid keys go on', async () => {
  const call = await serve();
  // A window may end midway: the 429 comes within two windows' worth of attempts.
  const answers = [];
  while (answers.length < 2 * LIMIT + 2 && answers.at(-1)?.status !== 429) {
    answers.push(await call('/v2/models/iris', { key: `guess-${answers.length}-0123456789abcdef`, from: '192.0.2.1' }));
  }
  const statuses = answers.map((a) => a.status);
  const refused = answers.at(-1);
  assert.equal(refused.status, 429, String(statuses));
  assert.ok(statuses.slice(0, -1).every((s) => s === 401) && statuses.length > LIMIT, String(statuses));
  assert.match(
    JSON.parse(refused.text).error,
    /^rate limit reached: this address made more failed authentications than the limit 'GUARD' allows in 60 s; retry after \d+ s$/,
  );
  assert.ok(Number(refused.retry) >= 1 && Number(refused.retry) <= 60, refused.retry);
  // No credentials at all count the same way.
  assert.equal((await call('/v2/models/iris', { from: '192.0.2.1' })).status, 429);

  // Another address is still told its key is wrong; a valid key from the first goes on, and
  // so does the public health route there (each has its own budget).
  assert.equal((await call('/v2/models/iris', { key: 'guess-other-0123456789abcdef', from: '192.0.2.2' })).status, 401);
  assert.equal((await call('/v2/models/iris', { key: KEY, from: '192.0.2.1' })).status, 200);
  assert.equal((await call('/v2/health/live', { from: '192.0.2.1' })).status, 200);
  const metrics = await call('/metrics', { key: PROMETHEUS, from: '192.0.2.3' });
  assert.match(
    metrics.text,
    /^edgeinfer_rate_limited_total\{limit="GUARD",principal="unauthenticated",isolate="[^"]+"\} [1-9]/m,
  );
});

test('without RATE_LIMIT, failed authentications are answered 401 as before', async () => {
  const call = await serve({ RATE_LIMIT: '' });
  for (let i = 0; i < 2 * LIMIT + 2; i++) {
    assert.equal(
      (await call('/v2/models/iris', { key: `guess-${i}-0123456789abcdef`, from: '192.0.2.9' })).status,
      401,
    );
  }
});
