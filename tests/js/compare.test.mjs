// `edgeinfer compare`, the promotion gate: run as a CI job runs it, with its metrics held to
// scikit-learn's on onnxruntime's predictions of the same models and table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageDir, root } from './harness.mjs';

const fixtures = join(root, 'tests/fixtures/ml');
const model = (name) => join(fixtures, `${name}.onnx`);
const iris = join(fixtures, 'iris_holdout.csv');
const diabetes = join(fixtures, 'diabetes_holdout.csv');

const compare = async (...args) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      join(packageDir, 'js/cli.js'),
      'compare',
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

/** The same logistic regression twice: its probabilities as a tensor, then as a ZipMap. */
const sameTwice = (csv, ...more) =>
  compare(model('logreg_iris'), model('zipmap_int64_iris'), '--csv', csv, '--label', 'species', ...more);

/** The metrics scikit-learn gives onnxruntime's predictions of `path` on the table. */
function sklearnMetrics(path, table, task) {
  const script = `
import json, sys
import numpy as np, onnxruntime as ort
from sklearn import metrics
path, table, task = sys.argv[1:]
data = np.loadtxt(table, delimiter=",", skiprows=1, dtype=np.float64)
X, y = data[:, :-1].astype(np.float32), data[:, -1]
s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
out = s.run(None, {s.get_inputs()[0].name: X})
if task == "regression":
    p = np.asarray(out[0], dtype=np.float64).reshape(-1)
    print(json.dumps({"mae": metrics.mean_absolute_error(y, p), "rmse": metrics.root_mean_squared_error(y, p),
                      "r2": metrics.r2_score(y, p)}))
else:
    label = np.asarray(out[0]).astype(np.float64)
    scores = out[1]
    if isinstance(scores, list):
        scores = np.array([[row[k] for k in sorted(row)] for row in scores])
    classes = np.unique(y)
    aucs = [metrics.roc_auc_score(y == c, scores[:, int(c)]) for c in classes]
    print(json.dumps({"accuracy": metrics.accuracy_score(y, label), "f1": metrics.f1_score(y, label, average="macro"),
                      "auc": float(np.mean(aucs)), "labels": label.tolist()}))
`;
  return JSON.parse(
    execFileSync(join(root, '.cache/venv/bin/python'), ['-c', script, path, table, task], { encoding: 'utf8' }),
  );
}

const close = (actual, expected, what) =>
  assert.ok(
    Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} against ${expected}`,
  );

test("an equal candidate passes; its metrics are scikit-learn's, whichever way it gives its scores", async () => {
  const r = await sameTwice(iris, '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.task, 'classification');
  assert.equal(report.rows, 150);
  const expected = sklearnMetrics(model('logreg_iris'), iris, 'classification');
  for (const side of ['base', 'candidate'])
    for (const m of ['accuracy', 'f1', 'auc']) close(report[side].metrics[m], expected[m], `${side} ${m}`);
  assert.equal(report.agreement.labels, 1);
  assert.ok(report.agreement.scores.max < 1e-6, JSON.stringify(report.agreement));
  assert.equal(report.gates.length, 1);
  assert.equal(report.gates[0].passed, true);
  assert.ok(
    report.latencyMs.every((ms) => ms > 0),
    JSON.stringify(report.latencyMs),
  );
});

test('a worse candidate exits 1 naming the gate; a better one exits 0', async () => {
  // An SVM fitted on standardised features, given raw ones: a real regression.
  const worse = await compare(model('logreg_iris'), model('svc_linear_iris'), '--csv', iris, '--label', 'species');
  assert.equal(worse.code, 1, worse.stderr);
  assert.match(
    worse.stdout,
    /FAIL {2}accuracy at least 0\.9636 \(the base's 0\.973333 less 1%\): the candidate's is 0\.\d{4}/,
  );
  const svm = sklearnMetrics(model('svc_linear_iris'), iris, 'classification');
  const base = sklearnMetrics(model('logreg_iris'), iris, 'classification');
  const json = JSON.parse(
    (await compare(model('logreg_iris'), model('svc_linear_iris'), '--csv', iris, '--label', 'species', '--json'))
      .stdout,
  );
  for (const m of ['accuracy', 'f1', 'auc']) close(json.candidate.metrics[m], svm[m], `svm ${m}`);
  const same = base.labels.filter((l, i) => l === svm.labels[i]).length / base.labels.length;
  close(json.agreement.labels, same, 'agreement');
  assert.match(worse.stdout, /^accuracy +0\.9733 +0\.\d{4} +-0\.\d{4}$/m);
  assert.match(worse.stdout, /^F1 of class 2 /m);

  const better = await compare(model('svc_linear_iris'), model('logreg_iris'), '--csv', iris, '--label', 'species');
  assert.equal(better.code, 0, better.stdout + better.stderr);
  assert.match(better.stdout, /PASS {2}accuracy at least/);
});

test("regressors are gated on MAE, lower being better; RMSE and R² are scikit-learn's", async () => {
  const args = ['--csv', diabetes, '--label', 'progression', '--json'];
  const worse = await compare(model('linear_regressor_diabetes'), model('svr_rbf_diabetes'), ...args);
  assert.equal(worse.code, 1, worse.stderr);
  const report = JSON.parse(worse.stdout);
  assert.equal(report.task, 'regression');
  assert.equal(report.rows, 442);
  for (const [side, name] of [
    ['base', 'linear_regressor_diabetes'],
    ['candidate', 'svr_rbf_diabetes'],
  ]) {
    const expected = sklearnMetrics(model(name), diabetes, 'regression');
    for (const m of ['mae', 'rmse', 'r2']) close(report[side].metrics[m], expected[m], `${name} ${m}`);
  }
  assert.match(report.gates[0].gate, /^mae at most [\d.]+ \(the base's [\d.]+ plus 1%\)$/);
  assert.equal(report.gates[0].passed, false);
  assert.ok(report.agreement.values.mean > 0 && report.agreement.values.max >= report.agreement.values.mean);

  const better = await compare(model('svr_rbf_diabetes'), model('linear_regressor_diabetes'), ...args);
  assert.equal(better.code, 0, better.stderr);
  const equal = await compare(model('linear_regressor_diabetes'), model('linear_regressor_diabetes'), ...args);
  assert.equal(equal.code, 0, equal.stderr);
  assert.equal(JSON.parse(equal.stdout).agreement.values.max, 0);
});

test('--min, --max, --metric and --max-regression set the gates', async () => {
  const base = [model('logreg_iris'), model('zipmap_int64_iris'), '--csv', iris, '--label', 'species'];
  const strict = await compare(...base, '--min', 'accuracy=0.99', '--min', 'auc=0.9');
  assert.equal(strict.code, 1);
  assert.match(strict.stdout, /FAIL {2}accuracy at least 0\.99: the candidate's is 0\.9733/);
  assert.match(strict.stdout, /PASS {2}auc at least 0\.9:/);
  const loose = await compare(
    model('logreg_iris'),
    model('svc_linear_iris'),
    '--csv',
    iris,
    '--label',
    'species',
    '--max-regression',
    '0.7',
  );
  assert.equal(loose.code, 0, loose.stdout);
  const auc = await compare(...base, '--metric', 'auc');
  assert.match(auc.stdout, /PASS {2}auc at least/);
  const reg = [
    model('linear_regressor_diabetes'),
    model('linear_regressor_diabetes'),
    '--csv',
    diabetes,
    '--label',
    'progression',
  ];
  const mae = await compare(...reg, '--max', 'mae=40');
  assert.equal(mae.code, 1);
  assert.match(mae.stdout, /FAIL {2}mae at most 40: the candidate's is 43\.\d{4}/);
  // Bounds the wrong way round, and metrics of the other task, are usage errors.
  for (const [args, message] of [
    [[...reg, '--min', 'mae=40'], /mae is better lower: bound it with --max/],
    [[...base, '--max', 'accuracy=0.5'], /accuracy is better higher: bound it with --min/],
    [[...base, '--metric', 'rmse'], /'rmse' is not a metric of classification: accuracy, f1, auc/],
    [[...base, '--min', 'accuracy'], /--min is METRIC=NUMBER, got 'accuracy'/],
    [[...base, '--max-regression=-1'], /--max-regression is a number of at least 0, got '-1'/],
    [[...base, '--task', 'ranking'], /--task is classification or regression, got 'ranking'/],
  ]) {
    const r = await compare(...args);
    assert.equal(r.code, 2, `${args.slice(-2)}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('bad tables and models are refused with what was wrong; unreadable rows are left out and counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-compare-'));
  const noLabel = await compare(model('logreg_iris'), model('zipmap_int64_iris'), '--csv', iris, '--label', 'kind');
  assert.equal(noLabel.code, 2);
  assert.match(
    noLabel.stderr,
    /no column 'kind'; its columns are sepal_length, sepal_width, petal_length, petal_width, species/,
  );
  const one = await compare(model('logreg_iris'), '--csv', iris, '--label', 'species');
  assert.equal(one.code, 2);
  assert.match(one.stderr, /compare takes BASE and CANDIDATE, got 1 files/);
  const missing = await compare(model('logreg_iris'), join(dir, 'nope.onnx'), '--csv', iris, '--label', 'species');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.onnx: E_MODEL_FETCH/);
  const mixed = await compare(
    model('logreg_iris'),
    model('linear_regressor_diabetes'),
    '--csv',
    iris,
    '--label',
    'species',
  );
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /linear_regressor_diabetes\.onnx is a regressor, not fit for classification/);

  // Two rows spoiled: a value that is not a number, and a row short of a field.
  const lines = readFileSync(iris, 'utf8').trimEnd().split('\n');
  lines[3] = lines[3].replace(/^[^,]+/, 'tall');
  lines[5] = lines[5].split(',').slice(1).join(',');
  const spoiled = join(dir, 'spoiled.csv');
  writeFileSync(spoiled, `${lines.join('\n')}\n`);
  const r = await sameTwice(spoiled, '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.rows, 148);
  assert.deepEqual(
    report.refused.map((x) => x.row),
    [3, 5],
  );
  assert.match(report.refused[0].reason, /logreg_iris\.onnx: column 'sepal_length' "tall" is not a number/);
  assert.match(report.refused[1].reason, /4 fields, the header has 5/);
  const text = await sameTwice(spoiled);
  assert.match(text.stdout, /148 rows compared as classification, 2 left out \(refused by a model\)/);

  const empty = join(dir, 'empty.csv');
  writeFileSync(empty, 'sepal_length,sepal_width,petal_length,petal_width,species\n');
  const none = await sameTwice(empty);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /the table has no rows/);
});
