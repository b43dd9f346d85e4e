// The promotion pipeline of examples/ci (promote.yml runs promote.sh): trained, built, signed,
// gated and scaffolded here as in CI, then the Worker it writes run in wrangler dev, where the
// canary is in force and an admin moves traffic between the two versions.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageDir, root } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';

const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-ci-'));
const python = join(root, '.cache/venv/bin/python');
const cli = (...args) => execFileSync(process.execPath, [join(packageDir, 'js/cli.js'), ...args], { cwd: dir });
const env = {
  ...process.env,
  EDGEINFER: `${process.execPath} ${join(packageDir, 'js/cli.js')}`,
  PYTHON: python,
  SIGNING_KEY: join(dir, 'team.key'),
  PUBLIC_KEY: join(dir, 'team.pub'),
};
/** promote.sh as the workflow runs it, with `extra` in its environment. */
const promote = (version, out, extra = {}) =>
  spawnSync('bash', [join(root, 'examples/ci/promote.sh'), join(dir, 'production/cancer.wasm'), version, out], {
    cwd: dir,
    env: { ...env, ...extra },
    encoding: 'utf8',
  });

let server;
after(() => server?.stop());

test('the workflow runs the script this test runs', () => {
  const workflow = readFileSync(join(root, 'examples/ci/promote.yml'), 'utf8');
  assert.match(workflow, /bash examples\/ci\/promote\.sh production\/cancer\.wasm "\$\{GITHUB_SHA::12\}" worker/);
  assert.match(workflow, /working-directory: worker\n\s+env:[\s\S]*run: npm install && npx wrangler deploy/);
});

test('a worse candidate fails the gate, and nothing is written', () => {
  cli('keygen', '-o', 'team');
  // Production: the pipeline's model as trained today, released as version 1.
  execFileSync(python, [join(root, 'examples/ci/train.py'), '--out', 'production.onnx', '--holdout', 'h.csv'], {
    cwd: dir,
  });
  cli('build', 'production.onnx', '--name', 'cancer', '--version', '1', '--sign', 'team.key', '-o', 'production');
  // Regularised a thousand times harder: about 0.75 accuracy against 0.96.
  const r = promote('2', join(dir, 'worse'), { TRAIN_ARGS: '--c 0.0003' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /FAIL {2}accuracy at least 0\.9\d+ \(the base's 0\.9\d+ less 1%\): the candidate's is 0\.7\d{3}/,
  );
  assert.ok(!existsSync(join(dir, 'worse')));
});

test('a candidate that holds up is served beside production, on a canary an admin can move', async () => {
  const out = join(dir, 'worker');
  const r = promote('2', out, { TRAIN_ARGS: '--c 0.3' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS {2}accuracy at least/);
  // Both versions and the policy, in the project as deployed; a KV namespace bound as
  // worker/wrangler.toml shows it.
  mkdirSync(join(out, 'node_modules'), { recursive: true });
  symlinkSync(packageDir, join(out, 'node_modules/edgeinfer'));
  appendFileSync(join(out, 'wrangler.toml'), '\n[[kv_namespaces]]\nbinding = "TRAFFIC"\nid = "traffic"\n');
  const keys = { web: 'pk-web-0123456789abcdef', ops: 'pk-ops-0123456789abcdef' };
  writeFileSync(
    join(out, '.dev.vars'),
    `API_KEYS='${JSON.stringify([
      { name: 'web', key: keys.web, scopes: ['predict'] },
      { name: 'ops', key: keys.ops, scopes: ['admin'] },
    ])}'\n`,
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  server = start(join(root, 'node_modules/.bin/wrangler'), ['dev', '--ip', '127.0.0.1', '--port', String(port)], {
    cwd: out,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
  });
  await waitFor(`${base}/v2/health/live`, server);
  const call = async (path, key, body, method = body ? 'POST' : 'GET') => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    return {
      status: response.status,
      json: await response.json(),
      version: response.headers.get('edgeinfer-model-version'),
    };
  };
  const traffic = await call('/v2/models/cancer/traffic', keys.ops);
  assert.equal(traffic.status, 200, JSON.stringify(traffic.json));
  assert.deepEqual(traffic.json.versions, ['1', '2']);
  assert.deepEqual(traffic.json.policy, {
    production: '1',
    candidate: '2',
    canary: 10,
    shadow: 25,
    sticky: 'principal',
  });
  const row = readFileSync(join(dir, 'h.csv'), 'utf8').split('\n')[1].split(',').slice(0, 30).map(Number);
  const infer = () =>
    call('/v2/models/cancer/infer', keys.web, { inputs: [{ name: 'X', shape: [1, 30], datatype: 'FP32', data: row }] });
  const first = await infer();
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.ok(['1', '2'].includes(first.version));
  // The admin sends everyone to the candidate, then rolls back.
  assert.equal((await call('/v2/models/cancer/traffic', keys.ops, { canary: 100 }, 'PUT')).status, 200);
  assert.equal((await infer()).version, '2');
  assert.equal((await call('/v2/models/cancer/traffic', keys.ops, { canary: 0 }, 'PUT')).status, 200);
  assert.equal((await infer()).version, '1');
});
