// Bundles' snapshots: the model as `edgeinfer build` loaded it, restored by the generated
// module in place of parsing the ONNX. A snapshot is restored only into a runtime instance that
// holds nothing yet, so each case runs in a fresh Node process that opens a bundle first.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, sign } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { assemble, corpusDir, fixtures, packageDir, root, sections } from './harness.mjs';

const dir = join(root, '.cache/snapshot-test');
const out = join(dir, 'dist');
const CASES = fixtures().cases;
const MODELS = [...new Set(CASES.map((c) => c.modelName))];
const url = (path) => pathToFileURL(path).href;

async function cli(...args) {
  const { stdout } = await promisify(execFile)(process.execPath, [join(packageDir, 'js/cli.js'), ...args], {
    cwd: dir,
  });
  return stdout;
}

/**
 * Runs `body` (an async function's body, given `bundle`: the module at `bundlePath`, and
 * `helpers`) in a fresh Node process; returns what it returns, through JSON.
 */
async function fresh(bundlePath, body) {
  const code = `
    const helpers = await import(${JSON.stringify(url(join(root, 'tests/js/snapshot-helpers.mjs')))});
    const bundle = await import(${JSON.stringify(url(bundlePath))});
    const result = await (async () => { ${body} })();
    console.log(JSON.stringify(result));`;
  const env = { ...process.env, SNAPSHOT_TEST_BUNDLE: url(bundlePath) };
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], {
    cwd: dir,
    env,
    maxBuffer: 1 << 24,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

before(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await cli('keygen', '-o', 'team');
  await cli('keygen', '-o', 'other');
  for (const m of MODELS)
    await cli('build', join(corpusDir(), `${m}.onnx`), '--name', m, '--version', '3', '--sign', 'team.key', '-o', out);
  await cli(
    'build',
    join(root, 'examples/iris.onnx'),
    '--name',
    'iris',
    '--version',
    '1',
    '--sign',
    'team.key',
    '-o',
    out,
  );
  await cli(
    'build',
    join(root, 'examples/iris.onnx'),
    '--name',
    'iris',
    '--version',
    '1',
    '--no-snapshot',
    '-o',
    join(dir, 'plain'),
  );
});

test('every corpus model restores from its snapshot, and predicts as onnxruntime and as its parsed ONNX do', async () => {
  for (const m of MODELS) {
    const r = await fresh(
      join(out, `${m}.js`),
      `
      const model = await bundle.load({ publicKey: helpers.read('team.pub') });
      return { loadedFrom: model.loadedFrom, checked: await helpers.checkCases(model, ${JSON.stringify(m)}) };`,
    );
    assert.equal(r.loadedFrom, 'snapshot', m);
    assert.equal(r.checked, CASES.filter((c) => c.modelName === m).length, m);
  }
});

test("a restored model takes the caller's limits, monitoring and plan cache; pinned shapes parse the ONNX", async () => {
  const r = await fresh(
    join(out, 'iris.js'),
    `
    const model = await bundle.load({ maxInputElements: 8, maxSpecializedPlans: 0, monitoring: { name: 'flowers' } });
    const two = await helpers.predictIris(model, 2);
    const three = await helpers.predictIris(model, 3).catch((e) => e.code);
    const pinned = await helpers.importAgain('pinned');
    const other = await pinned.load({ inputShapes: { features: [2, 4] } });
    return { loadedFrom: model.loadedFrom, two, three, stats: model.stats(), pinned: other.loadedFrom, again: await helpers.predictIris(other, 2) };`,
  );
  assert.equal(r.loadedFrom, 'snapshot');
  assert.deepEqual(r.two, [0, 2]);
  assert.equal(r.three, 'E_RESOURCE_LIMIT');
  assert.equal(r.stats.model, 'flowers');
  assert.equal(r.stats.predictions, 1);
  assert.equal(r.pinned, 'onnx');
  assert.deepEqual(r.again, [0, 2]);
});

test('options and keys are checked before the restore, so a refused load can be retried', async () => {
  const r = await fresh(
    join(out, 'iris.js'),
    `
    const codes = [];
    for (const options of [{ monitoring: { log: { sampleRate: 2 } } }, { maxTensorBytes: -1 }, { publicKey: helpers.read('other.pub') }]) {
      codes.push(await bundle.load(options).then(() => 'loaded', (e) => e.code));
    }
    const model = await bundle.load({ publicKey: helpers.read('team.pub') });
    return { codes, from: model.loadedFrom, label: await helpers.predictIris(model, 2) };`,
  );
  assert.deepEqual(r.codes, ['E_INVALID_OPTION', 'E_INVALID_OPTION', 'E_INTEGRITY']);
  assert.deepEqual([r.from, r.label], ['snapshot', [0, 2]]);
});

test('a second model in the same instance parses its ONNX and leaves the restored one intact', async () => {
  const r = await fresh(
    join(out, 'iris.js'),
    `
    const first = await bundle.load();
    const before = await helpers.predictIris(first, 2);
    const second = await (await helpers.importAgain('second')).load();
    const both = [await helpers.predictIris(first, 2), await helpers.predictIris(second, 2)];
    second.dispose();
    return { from: [first.loadedFrom, second.loadedFrom], before, both, after: await helpers.predictIris(first, 2) };`,
  );
  assert.deepEqual(r.from, ['snapshot', 'onnx']);
  assert.deepEqual(r.both, [r.before, r.before]);
  assert.deepEqual(r.after, r.before);
});

/** iris.wasm with its snapshot section replaced, and the manifest re-signed when `resign`. */
function withSnapshot(edit, resign) {
  const { runtime, list } = sections(readFileSync(join(out, 'iris.wasm')));
  const payload = (name) => list.find((s) => s.name === name).payload;
  const snapshot = edit(Buffer.from(payload('edgeinfer.snapshot')));
  let manifest = payload('edgeinfer.manifest'),
    signature = payload('edgeinfer.signature');
  if (resign) {
    const m = JSON.parse(Buffer.from(manifest).toString());
    m.snapshot = { size: snapshot.length, sha256: createHash('sha256').update(snapshot).digest('hex') };
    manifest = Buffer.from(JSON.stringify(m));
    signature = sign(
      null,
      Buffer.concat([Buffer.from('edgeinfer-bundle/1\n'), manifest]),
      readFileSync(join(dir, 'team.key'), 'utf8'),
    );
  }
  return assemble(runtime, [
    { name: 'edgeinfer.manifest', payload: manifest },
    { name: 'edgeinfer.model', payload: payload('edgeinfer.model') },
    { name: 'edgeinfer.signature', payload: signature },
    { name: 'edgeinfer.snapshot', payload: snapshot },
  ]);
}

test('a tampered or malformed snapshot is refused with E_INTEGRITY before it is restored, and the instance still loads', async () => {
  writeFileSync(
    join(dir, 'flipped.wasm'),
    withSnapshot((s) => {
      s[s.length >> 1] ^= 1;
      return s;
    }, false),
  );
  const flipped = await fresh(
    join(out, 'iris.js'),
    `
    const error = await bundle.load({ wasm: helpers.file('flipped.wasm'), publicKey: helpers.read('team.pub') }).catch((e) => [e.code, e.message]);
    const good = await (await helpers.importAgain('good')).load({ publicKey: helpers.read('team.pub') });
    return { error, from: good.loadedFrom, label: await helpers.predictIris(good, 2) };`,
  );
  assert.equal(flipped.error[0], 'E_INTEGRITY');
  assert.match(flipped.error[1], /the snapshot \(\d+ bytes, SHA-256 [0-9a-f]{16}\) does not match the manifest/);
  assert.deepEqual([flipped.from, flipped.label], ['onnx', [0, 2]]);
  // Signed as it is, but not a snapshot: refused while reading it, before memory is touched.
  for (const [junk, why] of [
    [Buffer.from('not a snapshot'), /expected version 1/],
    [Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 4, 0, 0, 0]), /run 0 is out of bounds/],
  ]) {
    writeFileSync(
      join(dir, 'junk.wasm'),
      withSnapshot(() => junk, true),
    );
    const r = await fresh(
      join(out, 'iris.js'),
      `
      const error = await bundle.load({ wasm: helpers.file('junk.wasm'), publicKey: helpers.read('team.pub') }).catch((e) => [e.code, e.message]);
      const good = await (await helpers.importAgain('good')).load();
      return { error, from: good.loadedFrom, label: await helpers.predictIris(good, 2) };`,
    );
    assert.equal(r.error[0], 'E_INTEGRITY');
    assert.match(r.error[1], why);
    assert.deepEqual([r.from, r.label], ['onnx', [0, 2]]);
  }
});

test('without WebCrypto, or built with --no-snapshot, a bundle parses its ONNX', async () => {
  const r = await fresh(
    join(out, 'iris.js'),
    `
    // A compiled module (as workerd gives it) is hashed with WebCrypto, which fails here.
    globalThis.crypto.subtle.digest = async () => { throw new Error('SubtleCrypto is unavailable'); };
    const model = await bundle.load({ wasm: await WebAssembly.compile(helpers.file('dist/iris.wasm')), publicKey: helpers.read('team.pub') });
    return { from: model.loadedFrom, label: await helpers.predictIris(model, 2) };`,
  );
  assert.deepEqual(r, { from: 'onnx', label: [0, 2] });
  const plain = await fresh(
    join(dir, 'plain/iris.js'),
    `
    const model = await bundle.load();
    return { from: model.loadedFrom, snapshot: model.manifest.snapshot ?? null, label: await helpers.predictIris(model, 2) };`,
  );
  assert.deepEqual(plain, { from: 'onnx', snapshot: null, label: [0, 2] });
  assert.match(await cli('inspect', join(dir, 'plain/iris.wasm')), /snapshot: none/);
  assert.match(await cli('inspect', join(out, 'iris.wasm')), /snapshot: \d+ bytes, sha256 [0-9a-f]{64}/);
});
