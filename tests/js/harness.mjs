// What the Node-side tests share: the package under test (the installed tarball, named by
// $EDGEINFER_PACKAGE, else this checkout), the acceptance corpus as fixtures, and bundle files
// split into their sections and put back together.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeFixtures } from '../suite/corpus.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The directory of the package under test. */
export const packageDir = resolve(process.env.EDGEINFER_PACKAGE ?? root);

/** Runs the installed package's command line in `cwd`; throws on a non-zero exit. */
export const runCli = (cwd, ...args) =>
  execFileSync(process.execPath, [join(packageDir, 'js/cli.js'), ...args], { cwd, stdio: 'pipe' });

/**
 * A key pair (team.key, team.pub) made in `cwd`, and the examples' iris classifier built by
 * the command line as a bundle signed by it, into `out` (`out/iris.wasm` and its modules).
 */
export function signedIrisBundle(cwd, out, version = '1') {
  runCli(cwd, 'keygen', '-o', 'team');
  irisBundle(cwd, out, { version });
}

/**
 * The iris bundle signed by `cwd`'s team.key, into `out`. With `simd: 'relaxed-simd'` it
 * carries that build, built in a Node that runs it (the snapshot is made by running it).
 */
export function irisBundle(cwd, out, { version = '1', simd } = {}) {
  const node = simd === 'relaxed-simd' ? ['--experimental-wasm-relaxed-simd'] : [];
  const args = ['build', join(root, 'examples/iris.onnx'), '--name', 'iris', '--version', version];
  args.push('--sign', 'team.key', '-o', out, ...(simd ? ['--simd', simd] : []));
  execFileSync(process.execPath, [...node, join(packageDir, 'js/cli.js'), ...args], { cwd, stdio: 'pipe' });
}

/** Imports the package the way a user's code would, through its package.json exports. */
export async function importPackage() {
  // A package resolves its own name through its exports (conditions: node, require).
  const entry = createRequire(join(packageDir, 'package.json')).resolve('edgeinfer');
  return import(pathToFileURL(entry).href);
}

/**
 * The acceptance corpus: the project's copy (tests/fixtures/corpus, cases made by the team's
 * make_corpus.py with onnxruntime's answers), or `$EDGEINFER_SHARED/corpus` where that is
 * set, to run the tests against another corpus.
 */
export const corpusDir = () =>
  process.env.EDGEINFER_SHARED ? join(process.env.EDGEINFER_SHARED, 'corpus') : join(root, 'tests/fixtures/corpus');

/** Cases as the in-runtime harnesses receive them, from `dirs` (the shared corpus by default): case JSON and base64 models. */
export function packedFixtures(dirs = [corpusDir()]) {
  const cases = [],
    models = {};
  for (const dir of dirs) {
    const files = readdirSync(dir);
    cases.push(
      ...files
        .filter((f) => f.endsWith('.json') && !f.startsWith('bad_'))
        .sort()
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8'))),
    );
    for (const f of files.filter((f) => f.endsWith('.onnx'))) {
      if (models[f]) throw new Error(`two fixture models are named ${f}`);
      models[f] = readFileSync(join(dir, f)).toString('base64');
    }
  }
  return { cases, models };
}

/**
 * What the shared suite runs on in every runtime: the corpus, the NaN fixtures
 * (tests/fixtures/nan), the layers the core fuses (tests/fixtures/layers), recurrent
 * layers (tests/fixtures/recurrent) and value inputs (tests/fixtures/values).
 */
export const suiteFixtures = () =>
  packedFixtures([
    corpusDir(),
    ...['nan', 'layers', 'recurrent', 'values'].map((d) => join(root, 'tests/fixtures', d)),
  ]);

export const fixtures = () => decodeFixtures(packedFixtures());

/**
 * Writes an ONNX model (with the project's Python) of one Identity per dtype, `in_<dtype>`
 * to `out_<dtype>`, each of shape ["n"]: dtypes the corpus has no model for.
 */
export function writeIdentityModel(path, dtypes) {
  const script = `
import sys, json, onnx
from onnx import TensorProto as T, helper
types = {k: getattr(T, {"float32": "FLOAT", "float64": "DOUBLE"}.get(k, k.upper())) for k in json.loads(sys.argv[2])}
nodes = [helper.make_node("Identity", [f"in_{k}"], [f"out_{k}"]) for k in types]
g = helper.make_graph(nodes, "dtypes", [helper.make_tensor_value_info(f"in_{k}", t, ["n"]) for k, t in types.items()],
                      [helper.make_tensor_value_info(f"out_{k}", t, ["n"]) for k, t in types.items()])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, sys.argv[1])
`;
  execFileSync(join(root, '.cache/venv/bin/python'), ['-c', script, path, JSON.stringify(dtypes)]);
}

/** The bundle's module split into sections, and a way to put it back together. */
export function sections(bytes) {
  const list = [];
  let at = 8,
    runtimeEnd = null;
  const leb = () => {
    let v = 0,
      shift = 0,
      b;
    do {
      b = bytes[at++];
      v |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return v >>> 0;
  };
  while (at < bytes.length) {
    const start = at,
      id = bytes[at++],
      size = leb(),
      bodyStart = at;
    if (id === 0) {
      const len = leb();
      const name = new TextDecoder().decode(bytes.subarray(at, at + len));
      if (name.startsWith('edgeinfer.')) {
        runtimeEnd ??= start;
        list.push({ name, payload: bytes.slice(at + len, bodyStart + size) });
      }
    }
    at = bodyStart + size;
  }
  return { runtime: bytes.slice(0, runtimeEnd), list };
}

export function assemble(runtime, list) {
  const parts = [runtime];
  const leb = (v) => {
    const o = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      o.push(b);
    } while (v);
    return o;
  };
  for (const { name, payload } of list) {
    const n = new TextEncoder().encode(name);
    const body = [...leb(n.length), ...n];
    parts.push(Uint8Array.from([0, ...leb(body.length + payload.length), ...body]), payload);
  }
  return Buffer.concat(parts);
}

/**
 * Runs the shared suite (node.test.mjs) in a new Node with `flags` and `env` beside this
 * process's; fails unless every test passed and there were more than 100. Its TAP output.
 */
export function runSuite(flags, env) {
  // Without NODE_TEST_CONTEXT the inner runner reports in TAP, not to this one.
  const inner = { ...process.env, ...env };
  delete inner.NODE_TEST_CONTEXT;
  const run = spawnSync(
    process.execPath,
    [...flags, '--test', '--test-reporter=tap', join(root, 'tests/js/node.test.mjs')],
    { encoding: 'utf8', env: inner, maxBuffer: 1 << 26, timeout: 600_000 },
  );
  const count = (what) => Number(run.stdout.match(new RegExp(`^# ${what} (\\d+)$`, 'm'))?.[1]);
  const failures = run.stdout
    .split('\n')
    .filter((l) => /^not ok|error/.test(l))
    .join('\n');
  assert.equal(run.status, 0, failures + run.stderr);
  assert.equal(count('fail'), 0);
  assert.ok(count('pass') > 100, `${count('pass')} passed`);
  return run.stdout;
}
