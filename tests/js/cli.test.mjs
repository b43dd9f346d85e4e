// The command line of the installed package, run as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageDir, root } from './harness.mjs';

const run = async (...args) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(packageDir, 'js/cli.js'), ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};
const iris = join(root, 'examples/iris.onnx');

test('predict prints the outputs as JSON', async () => {
  const r = await run('predict', iris, '--input', '{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.label, { dtype: 'int64', shape: [2], data: [0, 2] });
  assert.deepEqual(out.probabilities.shape, [2, 3]);
  for (const row of out.probabilities.data) assert.ok(Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-5);
  assert.match(r.stderr, /predicted in [\d.]+ ms/);
});

test('inspect lists inputs and outputs', async () => {
  const r = await run('inspect', iris);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /features: float32 \[batch, 4\]/);
  assert.match(r.stdout, /label: int64 \[batch\]/);
  assert.match(r.stdout, /class_labels: setosa,versicolor,virginica/);
});

test('refusals exit 1 with the code and what was wrong; usage errors exit 2', async () => {
  const missing = await run('predict', join(root, 'examples/nope.onnx'), '--input', '{}');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /E_MODEL_FETCH.*nope\.onnx/);
  const shape = await run('predict', iris, '--input', '{"features": [[1, 2]]}');
  assert.equal(shape.code, 1);
  assert.match(shape.stderr, /E_INPUT_SHAPE: input 'features': dimension 1 is 2, expected 4/);
  const ragged = await run('predict', iris, '--input', '{"features": [[1, 2, 3, 4], [1]]}');
  assert.equal(ragged.code, 2);
  assert.match(ragged.stderr, /not rectangular/);
  const json = await run('predict', iris, '--input', '{nope');
  assert.equal(json.code, 2);
  assert.match(json.stderr, /not JSON/);
  const unknown = await run('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const help = await run('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:/);
});

test('predict --csv reads CSV as reference does: a quote never closed is refused, not NaN', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-csv-'));
  const header = 'sepal_length,sepal_width,petal_length,petal_width';
  // A byte-order mark, CRLF line ends, a quoted field, blank lines: two rows.
  writeFileSync(join(dir, 'ok.csv'), `\uFEFF${header}\r\n5.1,3.5,"1.4",0.2\r\n\r\n6.7,3.0,5.2,2.3\r\n\n`);
  const ok = await run('predict', iris, '--csv', join(dir, 'ok.csv'));
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).label.data, [0, 2]);
  writeFileSync(join(dir, 'open.csv'), `${header}\n5.1,3.5,1.4,"0.2\n6.7,3.0,5.2,2.3\n`);
  for (const command of [
    ['predict', iris, '--csv', join(dir, 'open.csv')],
    ['reference', join(dir, 'open.csv')],
  ]) {
    const r = await run(...command);
    assert.notEqual(r.code, 0, `${command[0]} refuses it`);
    assert.match(r.stderr, /quoted field opened (on|by) line \d+ is never closed/, r.stderr);
    assert.equal(r.stdout, '', 'and prints no predictions');
  }
});

test('flags are checked per command: unknown or malformed ones exit 2 naming them', async () => {
  const own = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const version = await run('--version');
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), own.version);
  const buildHelp = await run('build', '--help');
  assert.equal(buildHelp.code, 0);
  assert.match(buildHelp.stdout, /edgeinfer build MODEL\.onnx --name NAME/);
  assert.doesNotMatch(buildHelp.stdout, /edgeinfer keygen/, 'only the command asked about');
  for (const [args, pattern] of [
    [['build', iris, '--nmae', 'x'], /build: Unknown option '--nmae'/],
    [['build', iris, '--name', 'x', '--version', '1', '--no-snapshot=1'], /'--no-snapshot' does not take an argument/],
    [['predict', iris, '--input'], /'--input <value>' argument missing/],
    [['predict', iris, iris, '--input', '{}'], /predict takes one file, got 2/],
    [['keygen', '-o'], /'-o, --out <value>' argument missing/],
  ]) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
  }
});

test('reference writes the statistics of a CSV sample, named as the model names its features', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-reference-'));
  const rows = ['sepal_length,sepal_width,petal_length,petal_width,species'];
  for (let i = 0; i < 60; i++)
    rows.push(
      [4.5 + (i % 30) / 10, 2.5 + (i % 10) / 10, 1 + (i % 50) / 10, 0.1 + (i % 25) / 10, ['a', 'b', 'c'][i % 3]].join(
        ',',
      ),
    );
  writeFileSync(join(dir, 'train.csv'), `${rows.join('\n')}\n`);
  const plain = await run('reference', join(dir, 'train.csv'), '-o', join(dir, 'plain.json'));
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /reference of 60 rows: 4 numeric and 1 categorical features in .*plain\.json/);
  const reference = JSON.parse(readFileSync(join(dir, 'plain.json'), 'utf8'));
  assert.equal(reference.format, 'edgeinfer-reference');
  assert.deepEqual(
    reference.features.map((f) => f.name),
    ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'],
  );
  assert.deepEqual(reference.features[4].categories, [
    ['a', 20],
    ['b', 20],
    ['c', 20],
  ]);
  assert.equal(reference.features[0].quantiles.length, 21);
  // With the model: its four features by name (the species column is not one), and its predictions.
  const withModel = await run('reference', join(dir, 'train.csv'), '--model', iris);
  assert.equal(withModel.code, 0, withModel.stderr);
  const own = JSON.parse(withModel.stdout);
  assert.deepEqual(
    own.features.map((f) => f.name),
    ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  );
  assert.equal(own.prediction.name, 'label');
  assert.equal(own.prediction.type, 'categorical');
  writeFileSync(join(dir, 'short.csv'), `${rows.map((r) => r.split(',').slice(0, 3).join(',')).join('\n')}\n`);
  const bad = await run('reference', join(dir, 'short.csv'), '--model', iris);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /E_INVALID_OPTION: invalid option: no column for feature 'petal_width'/);
  writeFileSync(join(dir, 'ragged.csv'), 'a,b\n1\n');
  const ragged = await run('reference', join(dir, 'ragged.csv'));
  assert.equal(ragged.code, 1);
  assert.match(ragged.stderr, /E_INVALID_OPTION: invalid option: CSV: data row 1 has 1 fields/);
});

test('worker scaffolds bundles under their manifest name and version, checked against the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-worker-cli-'));
  for (const k of ['team', 'other']) assert.equal((await run('keygen', '-o', join(dir, k))).code, 0);
  const built = await run(
    'build',
    iris,
    '--name',
    'flowers',
    '--version',
    '4',
    '--sign',
    join(dir, 'team.key'),
    '-o',
    join(dir, 'dist'),
  );
  assert.equal(built.code, 0, built.stderr);
  const bundle = join(dir, 'dist/flowers.wasm');
  const made = await run('worker', bundle, iris, '--public-key', join(dir, 'team.pub'), '-o', join(dir, 'w'));
  assert.equal(made.code, 0, made.stderr);
  const models = readFileSync(join(dir, 'w/src/models.js'), 'utf8');
  assert.match(models, /import flowers from '\.\.\/models\/flowers\.bundle';/);
  assert.match(models, /\{ name: 'flowers', version: "4", bytes: flowers, publicKey: PUBLIC_KEY \}/);
  assert.match(models, /\{ name: 'iris', version: "1", bytes: iris \}/);
  assert.ok(
    models.includes(JSON.stringify(readFileSync(join(dir, 'team.pub'), 'utf8'))),
    'the public key is in the source',
  );
  const wrong = await run('worker', bundle, '--public-key', join(dir, 'other.pub'), '-o', join(dir, 'w2'));
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /flowers\.wasm: E_INTEGRITY/);
});
