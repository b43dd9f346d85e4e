// Bundles end to end in Node, as users make and use them: `edgeinfer keygen`, `build`,
// `verify`, `inspect` and `predict` from the installed package's CLI, and the generated
// modules imported as they are.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { assemble, corpusDir, fixtures, importPackage, packageDir, root, sections } from './harness.mjs';
import { assertMatches } from '../suite/suite.mjs';

const dir = join(root, '.cache/bundle-test');
const out = join(dir, 'dist');

async function cli(...args) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(packageDir, 'js/cli.js'), ...args], {
      cwd: dir,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const CASES = fixtures().cases;
const CORPUS_MODELS = [...new Set(CASES.map((c) => c.modelName))];

before(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const keygen = await cli('keygen', '-o', 'team');
  assert.equal(keygen.code, 0, keygen.stderr);
  await cli('keygen', '-o', 'other');
  for (const m of CORPUS_MODELS) {
    const r = await cli(
      'build',
      join(corpusDir(), `${m}.onnx`),
      '--name',
      m,
      '--version',
      '3',
      '--sign',
      'team.key',
      '-o',
      out,
    );
    assert.equal(r.code, 0, `${m}: ${r.stderr}`);
  }
  const iris = await cli(
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
  assert.equal(iris.code, 0, iris.stderr);
});

describe('keys', () => {
  test('keygen writes a PEM pair, the private key readable by its owner only, and refuses to overwrite', async () => {
    assert.match(readFileSync(join(dir, 'team.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(readFileSync(join(dir, 'team.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(statSync(join(dir, 'team.key')).mode & 0o777, 0o600);
    const again = await cli('keygen', '-o', 'team');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /team\.key: exists/);
  });
});

describe('generated modules', () => {
  test('every corpus case predicts through its bundle as onnxruntime does', async () => {
    const pub = readFileSync(join(dir, 'team.pub'), 'utf8');
    for (const c of CASES) {
      const bundle = await import(pathToFileURL(join(out, `${c.modelName}.js`)).href);
      const model = await bundle.load({ publicKey: pub });
      assert.equal(model.manifest.name, c.modelName);
      const outputs = await bundle.predict(c.inputs);
      for (const [name, expected] of Object.entries(c.outputs)) {
        assertMatches(outputs[name], expected, { rtol: c.rtol, atol: c.atol }, `${c.name} ${name}`);
      }
    }
  });

  test('the module exports the manifest, features and labels, and the files are all there', async () => {
    const iris = await import(pathToFileURL(join(out, 'iris.js')).href);
    assert.equal(iris.manifest.name, 'iris');
    assert.equal(iris.manifest.version, '1');
    assert.deepEqual(iris.labels, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(iris.features, ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    assert.match(iris.manifest.model.sha256, /^[0-9a-f]{64}$/);
    for (const f of [
      'iris.wasm',
      'iris.js',
      'iris.worker.js',
      'iris.d.ts',
      'iris.runtime/js/bundle.js',
      'iris.runtime/dist/edgeinfer.js',
    ]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const enc = await import(pathToFileURL(join(out, 'encoder_block.js')).href);
    assert.equal(enc.manifest.model.encoding, 'onnx');
    assert.equal(enc.manifest.model.sha256, enc.manifest.model.source_sha256);
  });

  test('the Worker module imports nothing of Node, however deep (wrangler would want nodejs_compat)', () => {
    // Every module specifier, static or dynamic, of the module at `path` and of the modules it
    // imports by relative path.
    const seen = new Map();
    const visit = (path) => {
      if (seen.has(relative(out, path))) return;
      const source = readFileSync(path, 'utf8');
      const specifiers = [...source.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      seen.set(relative(out, path), specifiers);
      for (const s of specifiers) if (s.startsWith('.') && s.endsWith('.js')) visit(join(dirname(path), s));
    };
    visit(join(out, 'iris.worker.js'));
    assert.ok(seen.has('iris.runtime/js/core.js') && seen.has('iris.runtime/js/bundle.js'), [...seen.keys()].join());
    const fromNode = [...seen].flatMap(([file, specifiers]) =>
      specifiers.filter((s) => s.startsWith('node:')).map((s) => `${file}: ${s}`),
    );
    assert.deepEqual(fromNode, []);
    // NAME.js, for browsers and Node, still reads files and hashes with node:crypto in Node.
    assert.match(readFileSync(join(out, 'iris.runtime/js/bundle-node.js'), 'utf8'), /import\('node:crypto'\)/);
  });

  test('the generic API loads a bundle file too, and checks its signature', async () => {
    const { Model } = await importPackage();
    const bytes = readFileSync(join(out, 'mlp_tabular.wasm'));
    const m = await Model.load(bytes, { publicKey: readFileSync(join(dir, 'team.pub'), 'utf8') });
    assert.equal(m.manifest.signer.algorithm, 'Ed25519');
    await assert.rejects(Model.load(bytes, { publicKey: readFileSync(join(dir, 'other.pub'), 'utf8') }), {
      code: 'E_INTEGRITY',
    });
  });
});

describe('tampering', () => {
  const pub = () => readFileSync(join(dir, 'team.pub'), 'utf8');

  test('a flipped byte in each section is refused by verify and by the generated module', async () => {
    const { Model } = await importPackage();
    const good = readFileSync(join(out, 'mlp_tabular.wasm'));
    const { runtime, list } = sections(good);
    assert.deepEqual(
      list.map((s) => s.name),
      ['edgeinfer.manifest', 'edgeinfer.model', 'edgeinfer.signature', 'edgeinfer.snapshot'],
    );
    for (const [k, s] of list.entries()) {
      for (const at of [0, s.payload.length >> 1, s.payload.length - 1]) {
        const edited = list.map((x, j) =>
          j === k ? { ...x, payload: Uint8Array.from(x.payload, (b, i) => (i === at ? b ^ 1 : b)) } : x,
        );
        const file = join(dir, 'tampered.wasm');
        writeFileSync(file, assemble(runtime, edited));
        const v = await cli('verify', file, '--public-key', 'team.pub');
        assert.equal(v.code, 1, `${s.name}[${at}] passed verify`);
        assert.match(v.stderr, /tampered\.wasm: E_INTEGRITY/);
        await assert.rejects(
          Model.load(readFileSync(file), { publicKey: pub() }),
          { code: 'E_INTEGRITY' },
          `${s.name}[${at}]`,
        );
        const module = await WebAssembly.compile(readFileSync(file));
        const bundle = await import(`${pathToFileURL(join(out, 'mlp_tabular.js')).href}?${s.name}${at}`);
        await assert.rejects(
          bundle.load({ wasm: module, publicKey: pub() }),
          { code: 'E_INTEGRITY' },
          `module ${s.name}[${at}]`,
        );
      }
    }
    const code = Buffer.from(good);
    code[20] ^= 1;
    writeFileSync(join(dir, 'code.wasm'), code);
    const v = await cli('verify', 'code.wasm');
    assert.equal(v.code, 1);
  });

  test("a generated module hashes the model with the platform's SHA-256, which the core holds to the manifest", async () => {
    const module = await WebAssembly.compile(readFileSync(join(out, 'mlp_tabular.wasm')));
    const fresh = async (tag) => import(`${pathToFileURL(join(out, 'mlp_tabular.js')).href}?digest-${tag}`);
    const subtle = globalThis.crypto.subtle;
    const real = subtle.digest;
    let hashed = 0;
    try {
      subtle.digest = (algorithm, data) => {
        hashed += data.byteLength;
        return real.call(subtle, algorithm, data);
      };
      const m = await (await fresh('real')).load({ wasm: module, publicKey: pub() });
      assert.equal(
        hashed,
        m.manifest.model.size + m.manifest.snapshot.size,
        'WebCrypto hashed the model and its snapshot',
      );
      subtle.digest = async () => new Uint8Array(32).buffer;
      await assert.rejects((await fresh('wrong')).load({ wasm: module }), {
        code: 'E_INTEGRITY',
        message: /does not match the manifest/,
      });
      // Without a working digest (an insecure browser context) the core hashes the model itself.
      subtle.digest = async () => {
        throw new Error('SubtleCrypto is unavailable');
      };
      assert.equal((await (await fresh('none')).load({ wasm: module })).manifest.name, 'mlp_tabular');
    } finally {
      subtle.digest = real;
    }
  });

  test('every load with a publicKey checks the signature, whatever loaded the bundle first', async () => {
    const fresh = async (tag) => import(`${pathToFileURL(join(out, 'mlp_tabular.js')).href}?order-${tag}`);
    const other = readFileSync(join(dir, 'other.pub'), 'utf8');
    const feeds = { x: { data: new Float32Array(32), shape: [1, 32] } };
    // predict() loads without a key; a later load naming a key that did not sign it is refused.
    const afterPredict = await fresh('predict');
    await afterPredict.predict(feeds);
    await assert.rejects(afterPredict.load({ publicKey: other }), {
      code: 'E_INTEGRITY',
      message: /signature does not match/,
    });
    assert.equal((await afterPredict.load({ publicKey: pub() })).manifest.name, 'mlp_tabular');
    // A load with the right key, then one with another key, concurrently or later.
    const afterKey = await fresh('key');
    const [good, bad] = await Promise.allSettled([
      afterKey.load({ publicKey: pub() }),
      afterKey.load({ publicKey: other }),
    ]);
    assert.equal(good.status, 'fulfilled');
    assert.equal(bad.reason?.code, 'E_INTEGRITY');
    await assert.rejects(afterKey.load({ publicKey: other }), { code: 'E_INTEGRITY' });
    await assert.rejects(afterKey.load({ publicKey: 'not a key' }), { code: 'E_INVALID_OPTION' });
    // The model keeps serving after the refusals.
    assert.equal((await afterKey.predict(feeds)).y.shape[0], 1);
    // A refused first load leaves nothing behind: the next load checks its own key.
    const refusedFirst = await fresh('refused');
    await assert.rejects(refusedFirst.load({ publicKey: other }), { code: 'E_INTEGRITY' });
    assert.equal((await refusedFirst.load({ publicKey: pub() })).manifest.name, 'mlp_tabular');
    // An unsigned bundle, loaded without a key, is refused to any later key.
    const { runtime, list } = sections(readFileSync(join(out, 'mlp_tabular.wasm')));
    const unsigned = await WebAssembly.compile(
      assemble(
        runtime,
        list.filter((s) => s.name !== 'edgeinfer.signature'),
      ),
    );
    const plain = await fresh('unsigned');
    await plain.load({ wasm: unsigned });
    await assert.rejects(plain.load({ wasm: unsigned, publicKey: pub() }), {
      code: 'E_INTEGRITY',
      message: /not signed/,
    });
  });

  test("a load whose options differ from the first load's is refused, not ignored", async () => {
    const bundle = await import(`${pathToFileURL(join(out, 'iris.js')).href}?options`);
    const first = await bundle.load({
      monitoring: { name: 'flowers', log: { sampleRate: 0.5 } },
      maxInputElements: 1000,
    });
    assert.equal(
      await bundle.load({ monitoring: { name: 'flowers', log: { sampleRate: 0.5 } } }),
      first,
      'the same options',
    );
    assert.equal(await bundle.load(), first, 'no options take what is loaded');
    for (const [options, named] of [
      [{ monitoring: { name: 'flowers', log: { sampleRate: 1 } } }, 'monitoring'],
      [{ monitoring: false }, 'monitoring'],
      [{ maxInputElements: 10 }, 'maxInputElements'],
      [{ inputShapes: { features: [1, 4] } }, 'inputShapes'],
      [{ wasm: new URL('file:///elsewhere.wasm') }, 'wasm'],
    ]) {
      await assert.rejects(
        bundle.load(options),
        { code: 'E_INVALID_OPTION', message: new RegExp(`'${named}' option`) },
        JSON.stringify(options),
      );
    }
    await assert.rejects(bundle.load(null), { code: 'E_INVALID_OPTION' });
  });

  test('a wrong key, a missing signature or section, another runtime version', async () => {
    const wrong = await cli('verify', join(out, 'mlp_tabular.wasm'), '--public-key', 'other.pub');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /E_INTEGRITY: bundle integrity check failed: the signature does not match/);
    const ok = await cli('verify', join(out, 'mlp_tabular.wasm'), '--public-key', 'team.pub');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK, mlp_tabular 3, signature by team\.pub/);
    const { runtime, list } = sections(readFileSync(join(out, 'mlp_tabular.wasm')));
    writeFileSync(join(dir, 'unsigned.wasm'), assemble(runtime, list.slice(0, 2)));
    const unsigned = await cli('verify', 'unsigned.wasm', '--public-key', 'team.pub');
    assert.match(unsigned.stderr, /not signed/);
    writeFileSync(join(dir, 'nomodel.wasm'), assemble(runtime, [list[0], list[2], list[3]]));
    assert.match((await cli('verify', 'nomodel.wasm')).stderr, /no 'edgeinfer\.model' section/);
    const manifest = JSON.parse(new TextDecoder().decode(list[0].payload));
    manifest.runtime.version = '0.0.1';
    const m = new TextEncoder().encode(JSON.stringify(manifest));
    const signature = sign(
      null,
      Buffer.concat([Buffer.from('edgeinfer-bundle/1\n'), m]),
      readFileSync(join(dir, 'team.key'), 'utf8'),
    );
    writeFileSync(
      join(dir, 'old.wasm'),
      assemble(runtime, [
        { name: 'edgeinfer.manifest', payload: m },
        list[1],
        { name: 'edgeinfer.signature', payload: signature },
      ]),
    );
    const old = await cli('verify', 'old.wasm', '--public-key', 'team.pub');
    assert.equal(old.code, 1);
    assert.match(old.stderr, /E_BUNDLE_VERSION: the bundle was built by edgeinfer 0\.0\.1/);
  });
});

describe('command line', () => {
  test("inspect shows a bundle's manifest; predict takes JSON or CSV; errors name the file", async () => {
    const inspect = await cli('inspect', join(out, 'iris.wasm'));
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /bundle iris 1/);
    assert.match(inspect.stdout, /signed: Ed25519, key [0-9a-f]{16}/);
    assert.match(inspect.stdout, /labels: setosa, versicolor, virginica/);
    writeFileSync(
      join(dir, 'flowers.csv'),
      'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n',
    );
    const csv = await cli('predict', join(out, 'iris.wasm'), '--csv', 'flowers.csv', '--public-key', 'team.pub');
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(JSON.parse(csv.stdout).label.data, [0, 2]);
    writeFileSync(join(dir, 'bad.csv'), 'sepal_length,colour\n1,2\n');
    const bad = await cli('predict', join(out, 'iris.wasm'), '--csv', 'bad.csv');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.csv: .*unknown feature 'colour'/);
    const missing = await cli('build', 'nope.onnx', '--name', 'x', '--version', '1');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.onnx: .*ENOENT/);
    const usage = await cli('build', join(root, 'examples/iris.onnx'));
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--name NAME and --version V/);
    const badName = await cli('build', join(root, 'examples/iris.onnx'), '--name', 'a b', '--version', '1', '-o', out);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /E_INVALID_OPTION/);
  });

  test("the generated types accept the model's inputs and refuse others (tsc)", async () => {
    writeFileSync(
      join(out, 'use.ts'),
      `import { predict, load, labels } from './iris.js';
async function main(): Promise<void> {
  const out = await predict({ features: { data: new Float32Array(4), shape: [1, 4] } });
  const probs: Float32Array = out.probabilities.data;
  const label: BigInt64Array = out.label.data;
  const first: 'setosa' = labels[0];
  await load({ publicKey: '...' });
  // @ts-expect-error an input the model does not have
  await predict({ petals: { data: [1], shape: [1, 4] } });
  // @ts-expect-error the second dimension is 4
  await predict({ features: { data: [1], shape: [1, 4, 1] } });
  void probs; void label; void first;
}
void main;
`,
    );
    writeFileSync(
      join(out, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2022', 'DOM'],
          types: [],
        },
        files: ['use.ts'],
      }),
    );
    writeFileSync(join(out, 'package.json'), '{"type": "module"}');
    const { stderr, stdout } = await promisify(execFile)(join(root, 'node_modules/.bin/tsc'), ['-p', out]).catch(
      (e) => e,
    );
    assert.equal(stdout + stderr, '', 'tsc reported errors');
  });
});

describe('monitoring reference', () => {
  test('a reference made by `edgeinfer reference` rides in the signed bundle and drives drift', async () => {
    let seed = 7;
    const normal = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const u = (seed + 1) / 2147483649;
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const v = (seed + 1) / 2147483649;
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    };
    const means = [5.8, 3.0, 3.8, 1.2],
      sds = [0.8, 0.4, 1.7, 0.8];
    const row = (shift = 0) => means.map((m, j) => m + sds[j] * normal() + (j === 2 ? shift : 0));
    const header = 'sepal_length,sepal_width,petal_length,petal_width';
    writeFileSync(
      join(dir, 'train.csv'),
      `${header}\n${Array.from({ length: 2000 }, () =>
        row()
          .map((x) => x.toFixed(3))
          .join(','),
      ).join('\n')}\n`,
    );
    const ref = await cli(
      'reference',
      'train.csv',
      '--model',
      join(root, 'examples/iris.onnx'),
      '-o',
      'iris.reference.json',
    );
    assert.equal(ref.code, 0, ref.stderr);
    const built = await cli(
      'build',
      join(root, 'examples/iris.onnx'),
      '--name',
      'iris_watched',
      '--version',
      '2',
      '--sign',
      'team.key',
      '--reference',
      'iris.reference.json',
      '-o',
      out,
    );
    assert.equal(built.code, 0, built.stderr);
    const bundle = await import(pathToFileURL(join(out, 'iris_watched.js')).href);
    const model = await bundle.load({
      publicKey: readFileSync(join(dir, 'team.pub'), 'utf8'),
      monitoring: { window: 1000 },
    });
    assert.equal(model.manifest.reference.rows, 2000);
    assert.equal(bundle.manifest.reference, undefined, 'the module keeps the reference out of its inlined manifest');
    const batch = (shift) => Float32Array.from(Array.from({ length: 250 }, () => row(shift)).flat());
    for (let k = 0; k < 4; k++) await model.predict({ features: { data: batch(1.0), shape: [250, 4] } });
    const drift = model.drift();
    assert.equal(drift.status, 'drift', JSON.stringify(drift).slice(0, 500));
    assert.deepEqual(
      drift.features.filter((f) => f.status === 'drift').map((f) => f.name),
      ['petal_length'],
    );
    const stats = model.stats();
    assert.equal(stats.predictions, 4);
    // build --reference takes the training CSV itself: the same statistics, made with the model.
    const direct = await cli(
      'build',
      join(root, 'examples/iris.onnx'),
      '--name',
      'iris_from_csv',
      '--version',
      '2',
      '--reference',
      'train.csv',
      '-o',
      out,
    );
    assert.equal(direct.code, 0, direct.stderr);
    const fromCsv = await (await import(pathToFileURL(join(out, 'iris_from_csv.js')).href)).load();
    assert.deepEqual(fromCsv.manifest.reference, JSON.parse(readFileSync(join(dir, 'iris.reference.json'), 'utf8')));
    assert.ok(fromCsv.manifest.reference.prediction, 'with the predictions on the sample');
  });

  test('a bundle built with --guard refuses features outside its reference, unless the load says otherwise', async () => {
    // Training rows on a grid: each feature spans [1, 5] (petal_width [0.1, 2.5]).
    const csv = ['sepal_length,sepal_width,petal_length,petal_width'];
    for (let i = 0; i <= 40; i++) csv.push([1 + i / 10, 1 + i / 10, 1 + i / 10, 0.1 + (i * 0.6) / 10].join(','));
    writeFileSync(join(dir, 'grid.csv'), `${csv.join('\n')}\n`);
    const iris = join(root, 'examples/iris.onnx');
    const build = (...flags) => cli('build', iris, '--name', 'iris_guarded', '--version', '1', '-o', out, ...flags);
    const noReference = await build('--guard', 'refuse');
    assert.notEqual(noReference.code, 0);
    assert.match(noReference.stderr, /--guard checks features against a reference: give --reference too/);
    const badMode = await build('--reference', 'grid.csv', '--guard', 'block');
    assert.notEqual(badMode.code, 0);
    assert.match(badMode.stderr, /--guard is 'block', expected flag, clip or refuse/);
    const built = await build(
      '--reference',
      'grid.csv',
      '--guard',
      'refuse',
      '--guard-margin',
      '0.25',
      '--sign',
      'team.key',
    );
    assert.equal(built.code, 0, built.stderr);
    const bundle = await import(pathToFileURL(join(out, 'iris_guarded.js')).href);
    const model = await bundle.load({ publicKey: readFileSync(join(dir, 'team.pub'), 'utf8') });
    assert.deepEqual(model.manifest.guard, { mode: 'refuse', margin: 0.25, missing: 'reference' });
    const feeds = (petalLength) => ({ features: { data: Float32Array.of(2, 3, petalLength, 1), shape: [1, 4] } });
    // [1, 5] widened by a quarter of its width each side: [0, 6].
    // The outputs' values.
    const predict = async (m, f) =>
      Object.fromEntries(Object.entries(await m.predict(f)).map(([k, t]) => [k, [...t.data].map(Number)]));
    const inRange = await predict(model, feeds(5.9));
    await assert.rejects(model.predict(feeds(6.5)), (e) => {
      assert.equal(e.code, 'E_INPUT_VALUE');
      assert.match(
        e.message,
        /feature 'petal_length' is 6\.5 in row 0, outside the allowed range \[0, 6\] \(the training data's \[1, 5\]/,
      );
      return true;
    });
    assert.deepEqual(await predict(model, feeds(5.9)), inRange, 'the model stays usable');
    await assert.rejects(model.predict(feeds(NaN)), /feature 'petal_length' is NaN \(missing\) in row 0/);
    const guard = model.stats().guard;
    assert.deepEqual(
      [guard.mode, guard.calls, guard.flaggedCalls, guard.refusedCalls, guard.unguarded],
      ['refuse', 4, 2, 2, []],
    );
    assert.deepEqual(guard.features[2], {
      feature: 'petal_length',
      below: 0,
      above: 1,
      missing: 1,
      unknownCategory: 0,
    });

    // The loader decides: clip moves the value to the range's end, flag only counts, false drops the guard.
    const { Model } = await importPackage();
    const file = readFileSync(join(out, 'iris_guarded.wasm'));
    const open = (options) => Model.load(file, options);
    const clip = await open({ guard: 'clip' });
    // A load's guard replaces the bundle's whole: its margin is the default 0.1, so [0.6, 5.4].
    assert.deepEqual(await predict(clip, feeds(100)), await predict(model, feeds(5.4)));
    assert.equal(clip.stats().guard.clippedValues, 1);
    const flag = await open({ guard: { mode: 'flag', margin: 0 }, monitoring: { log: {} } });
    await flag.predict(feeds(5.5));
    assert.equal(flag.stats().guard.flaggedCalls, 1);
    assert.deepEqual(JSON.parse(flag.takeLogs()[0]).guard, [{ feature: 'petal_length', kind: 'above', rows: 1 }]);
    const off = await open({ guard: false });
    await off.predict(feeds(100));
    assert.equal(off.stats().guard, null);
    await assert.rejects(open({ monitoring: false }), (e) => {
      assert.equal(e.code, 'E_INVALID_OPTION');
      assert.match(e.message, /this bundle guards its inputs .* guard: false to drop the guard/);
      return true;
    });

    // The option on plain models, and what it refuses.
    const bytes = readFileSync(iris);
    const reference = model.manifest.reference;
    for (const [guardOption, why] of [
      ['block', /guard is 'block'/],
      [{ margin: 0.1 }, /guard\.mode is required/],
      [{ mode: 'flag', margin: -1 }, /guard\.margin must be a finite number of at least 0, got -1/],
      [{ mode: 'flag', missing: 'never' }, /guard\.missing is 'never', expected 'reference', 'allow' or 'refuse'/],
      [{ mode: 'flag', extra: 1 }, /unknown option guard\.extra/],
      [7, /guard must be 'flag', 'clip', 'refuse', false or/],
    ])
      await assert.rejects(Model.load(bytes, { reference, guard: guardOption }), (e) => {
        assert.equal(e.code, 'E_INVALID_OPTION');
        assert.match(e.message, why);
        return true;
      });
    await assert.rejects(Model.load(bytes, { guard: 'refuse' }), /guard checks inputs against reference statistics/);
    await assert.rejects(Model.load(bytes, { reference, guard: 'refuse', monitoring: false }), /monitoring is false/);
    const plain = await Model.load(bytes, { reference, guard: { mode: 'refuse', missing: 'allow' } });
    await plain.predict(feeds(NaN));
    assert.equal(plain.stats().guard.refusedCalls, 0, 'missing values allowed');
  });
});
