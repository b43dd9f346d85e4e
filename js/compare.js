// `edgeinfer compare`: a base and a candidate model scored on the same labelled table, their
// metrics side by side, how far they agree, their latency, and the gates a CI pipeline sets
// before promoting the candidate. It runs on the public Model API and the table reader that
// `batch` and `predictBatches` share.
import { readRows, recordTable } from './table.js';

/** The metrics, by task: whether higher is better. The first of each task is its main one. */
export const METRICS = {
  accuracy: { task: 'classification', higher: true, title: 'accuracy' },
  f1: { task: 'classification', higher: true, title: 'macro F1' },
  auc: { task: 'classification', higher: true, title: 'ROC AUC' },
  mae: { task: 'regression', higher: false, title: 'MAE' },
  rmse: { task: 'regression', higher: false, title: 'RMSE' },
  r2: { task: 'regression', higher: true, title: 'R²' },
};

/** A table, model or gate that cannot be compared; the message says what and why. */
export class CompareError extends Error {}

/** Rows timed one at a time for each model's latency. */
const LATENCY_ROWS = 100;

/** A class as a key: numbers by value ("1.0" is 1), anything else as trimmed text. */
const classKey = (v) => {
  const s = String(v).trim();
  return s !== '' && Number.isFinite(Number(s)) ? String(Number(s)) : s;
};

const byClass = (a, b) => (Number.isFinite(+a) && Number.isFinite(+b) ? a - b : a < b ? -1 : a > b ? 1 : 0);

/**
 * Which outputs answer: a class label and/or one score per class (a ZipMap, or a [N, K]
 * float tensor) make a classifier; a float of one value per row, a regressor.
 */
function outputsOf(model, name) {
  const rows = (o) => o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1);
  const label = model.outputs.find((o) => (o.dtype === 'string' || /int/.test(o.dtype)) && rows(o));
  const scores =
    model.outputs.find((o) => o.dtype === 'map') ??
    model.outputs.find((o) => o.dtype.startsWith('float') && o.shape.length === 2 && o.shape[1] !== 1);
  if (label || scores) return { task: 'classification', label: label?.name, scores: scores?.name };
  const value = model.outputs.find((o) => o.dtype.startsWith('float') && rows(o));
  if (value) return { task: 'regression', value: value.name };
  throw new CompareError(
    `${name}: none of its outputs is a class label, class scores or one number per row (${model.outputs.map((o) => `${o.name}: ${o.dtype} [${o.shape.join(', ')}]`).join('; ')})`,
  );
}

/** One row's answer from a batch's outputs: `{ label?, scores? }` or `{ value }`. */
function answer(outputs, how, i) {
  if (how.task === 'regression') return { value: Number(outputs[how.value].data[i]) };
  const row = {};
  if (how.label) row.label = classKey(outputs[how.label].data[i]);
  if (how.scores) {
    const t = outputs[how.scores];
    if (t.dtype === 'map') row.scores = Object.fromEntries(Object.entries(t.data[i]).map(([k, v]) => [classKey(k), v]));
    else {
      const k = t.shape[1];
      row.scores = Array.from(t.data.subarray(i * k, (i + 1) * k), Number);
    }
  }
  return row;
}

/** Every row's answer (undefined where the model refused the row) and the refusals. */
async function score(model, how, records, batchSize) {
  const answers = new Array(records.length);
  const refused = new Map();
  for await (const { outputs, indices, rejected } of model.predictBatches(records, { batchSize })) {
    for (const r of rejected) refused.set(r.index, r.reason);
    if (outputs) indices.forEach((row, i) => (answers[row] = answer(outputs, how, i)));
  }
  return { answers, refused };
}

/**
 * Names the columns of [N, K] scores: sklearn's order, the classes sorted, when the classes
 * seen (true and predicted) are K; classes 0 to K-1 when every one seen is an integer below K.
 * Null when neither tells.
 */
function scoreColumns(k, seen) {
  const classes = [...seen].sort(byClass);
  if (classes.length === k) return classes;
  if (classes.every((c) => Number.isInteger(+c) && +c >= 0 && +c < k))
    return Array.from({ length: k }, (_, j) => String(j));
  return null;
}

/** Scores as a class-to-score object, labels from them where the model gives none. */
function attribute(answers, truth, name) {
  const seen = new Set(truth);
  for (const a of answers) if (a?.label !== undefined) seen.add(a.label);
  const width = answers.find((a) => Array.isArray(a?.scores))?.scores.length;
  const columns = width === undefined ? undefined : scoreColumns(width, seen);
  for (const a of answers) {
    if (!a || !Array.isArray(a.scores)) continue;
    if (columns === null) {
      if (a.label === undefined)
        throw new CompareError(
          `${name} answers ${width} scores and no label, and the table's ${seen.size} classes (${[...seen].sort(byClass).join(', ')}) do not say which class each score is`,
        );
      delete a.scores;
      continue;
    }
    a.scores = Object.fromEntries(columns.map((c, j) => [c, a.scores[j]]));
    a.label ??= columns.reduce((best, c) => (a.scores[c] > a.scores[best] ? c : best), columns[0]);
  }
}

/** The area under the ROC curve of `scores` for `positive` rows, ties counted half. */
function rocAuc(scores, positive) {
  const order = scores.map((s, i) => [s, positive[i]]).sort((a, b) => a[0] - b[0]);
  let rankSum = 0,
    positives = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j][0] === order[i][0]) j++;
    const rank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++)
      if (order[t][1]) {
        rankSum += rank;
        positives++;
      }
    i = j;
  }
  const negatives = order.length - positives;
  if (!positives || !negatives) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function classification(truth, answers) {
  const predicted = answers.map((a) => a.label);
  const classes = [...new Set([...truth, ...predicted])].sort(byClass);
  const perClass = {};
  for (const c of classes) {
    let tp = 0,
      fp = 0,
      fn = 0;
    truth.forEach((t, i) => {
      if (predicted[i] === c && t === c) tp++;
      else if (predicted[i] === c) fp++;
      else if (t === c) fn++;
    });
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    perClass[c] = { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0 };
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // ROC AUC from scores: of the second class against the first for two, else the mean of
  // each true class against the rest (one-vs-rest, macro), as scikit-learn computes them.
  let auc = null;
  const truthClasses = [...new Set(truth)].sort(byClass);
  if (answers.every((a) => a.scores) && truthClasses.length >= 2) {
    const aucs = (truthClasses.length === 2 ? truthClasses.slice(1) : truthClasses).map((c) =>
      answers.every((a) => c in a.scores)
        ? rocAuc(
            answers.map((a) => a.scores[c]),
            truth.map((t) => t === c),
          )
        : null,
    );
    if (aucs.every((a) => a !== null)) auc = mean(aucs);
  }
  return {
    accuracy: mean(truth.map((t, i) => (t === predicted[i] ? 1 : 0))),
    f1: mean(classes.map((c) => perClass[c].f1)),
    auc,
    perClass,
  };
}

function regression(truth, answers) {
  const n = truth.length;
  const errors = truth.map((t, i) => answers[i].value - t);
  const mean = truth.reduce((a, b) => a + b, 0) / n;
  const total = truth.reduce((a, t) => a + (t - mean) ** 2, 0);
  const squared = errors.reduce((a, e) => a + e * e, 0);
  return {
    mae: errors.reduce((a, e) => a + Math.abs(e), 0) / n,
    rmse: Math.sqrt(squared / n),
    r2: total ? 1 - squared / total : null,
  };
}

/** How far the two answer alike: labels, and scores of the classes both give; or values. */
function agreement(task, base, candidate) {
  const differences = (pairs) => {
    const d = pairs.map(([a, b]) => Math.abs(a - b));
    return d.length ? { mean: d.reduce((a, b) => a + b, 0) / d.length, max: Math.max(...d) } : null;
  };
  if (task === 'regression') return { values: differences(base.map((b, i) => [b.value, candidate[i].value])) };
  const pairs = [];
  base.forEach((b, i) => {
    const c = candidate[i];
    if (b.scores && c.scores) for (const k in b.scores) if (k in c.scores) pairs.push([b.scores[k], c.scores[k]]);
  });
  return {
    labels: base.filter((b, i) => b.label === candidate[i].label).length / base.length,
    scores: differences(pairs),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Median milliseconds of one-row predictions, the two models taking turns on the same rows. */
async function latency(models, records) {
  const feeds = models.map((model) => {
    const table = recordTable(model, records[0], {});
    const rows = [];
    for (let i = 0; rows.length < LATENCY_ROWS && i < records.length; i++) {
      const { rows: read, feeds: columns } = readRows([table.read(records[i], i)], table.job, []);
      if (read.length)
        rows.push(
          Object.fromEntries(
            columns.map(({ input, width, data }) => [
              input.name,
              { data: data.slice(0, width), shape: [1, ...input.shape], dtype: input.dtype },
            ]),
          ),
        );
    }
    return rows;
  });
  const n = Math.min(...feeds.map((f) => f.length));
  const times = models.map(() => []);
  for (let pass = 0; pass < 2; pass++)
    for (let i = 0; i < n; i++)
      for (let m = 0; m < models.length; m++) {
        const started = performance.now();
        await models[m].predict(feeds[m][i]);
        if (pass) times[m].push(performance.now() - started);
      }
  return times.map((t) => (t.length ? median(t) : null));
}

/**
 * Scores `base` and `candidate` (loaded models) on a table: `header` and `rows` of fields,
 * the true value in column `label`. `task` ('classification' | 'regression') is read from
 * the models' outputs unless given. Rows either model refuses are left out of every metric
 * and listed.
 */
export async function compareModels({ base, candidate, names, header, rows, label, task, batchSize = 1024 }) {
  const column = header.indexOf(label);
  if (column < 0) throw new CompareError(`the table has no column '${label}'; its columns are ${header.join(', ')}`);
  if (!rows.length) throw new CompareError('the table has no rows');
  const features = header.map((_, j) => j).filter((j) => j !== column);
  const records = rows.map((r) => Object.fromEntries(features.map((j) => [header[j], r[j]])));
  const hows = [base, candidate].map((m, i) => outputsOf(m, names[i]));
  task ??= hows[0].task;
  for (const [i, how] of hows.entries())
    if (how.task !== task)
      throw new CompareError(
        `${names[i]} is a ${how.task === 'regression' ? 'regressor' : 'classifier'}, not fit for ${task}`,
      );
  const scored = [];
  for (const [i, model] of [base, candidate].entries()) scored.push(await score(model, hows[i], records, batchSize));
  const refused = [];
  const kept = [];
  rows.forEach((r, i) => {
    const why = scored.map((s, m) => s.refused.has(i) && `${names[m]}: ${s.refused.get(i)}`).filter(Boolean);
    if (r.length !== header.length) why.push(`${r.length} fields, the header has ${header.length}`);
    const truth = r[column];
    if (task === 'regression' && (String(truth).trim() === '' || !Number.isFinite(Number(truth))))
      why.push(`the label '${truth}' is not a number`);
    if (why.length) refused.push({ row: i + 1, reason: why.join('; ') });
    else kept.push(i);
  });
  if (!kept.length) throw new CompareError(`no row could be scored by both models: row 1: ${refused[0].reason}`);
  const truth = kept.map((i) => (task === 'regression' ? Number(rows[i][column]) : classKey(rows[i][column])));
  const answers = scored.map((s) => kept.map((i) => s.answers[i]));
  if (task === 'classification') answers.forEach((a, m) => attribute(a, truth, names[m]));
  const metrics = answers.map((a) => (task === 'regression' ? regression(truth, a) : classification(truth, a)));
  return {
    task,
    rows: kept.length,
    refused,
    base: { name: names[0], metrics: metrics[0] },
    candidate: { name: names[1], metrics: metrics[1] },
    agreement: agreement(task, ...answers),
    latencyMs: await latency(
      [base, candidate],
      kept.map((i) => records[i]),
    ),
  };
}

/**
 * The gates on a comparison: the main `metric` (the task's first by default) may be worse
 * than the base's by at most `maxRegression` of the base's value; each `min` and `max` is a
 * `[metric, bound]` the candidate must reach. Returns `[{ gate, passed }]`.
 */
/**
 * @param {any} report
 * @param {{ metric?: string, maxRegression?: number, min?: Array<[string, number]>, max?: Array<[string, number]> }} [gates]
 */
export function checkGates(report, { metric, maxRegression = 0.01, min = [], max = [] } = {}) {
  const known = (m, bound) => {
    if (!Object.hasOwn(METRICS, m) || METRICS[m].task !== report.task)
      throw new CompareError(
        `'${m}' is not a metric of ${report.task}: ${Object.keys(METRICS)
          .filter((k) => METRICS[k].task === report.task)
          .join(', ')}`,
      );
    if (bound !== undefined && METRICS[m].higher !== (bound === 'min'))
      throw new CompareError(
        `${m} is better ${METRICS[m].higher ? 'higher: bound it with --min' : 'lower: bound it with --max'}`,
      );
    return m;
  };
  const main = known(metric ?? Object.keys(METRICS).find((m) => METRICS[m].task === report.task));
  const value = (side, m) => {
    const v = report[side].metrics[m];
    if (v === null) throw new CompareError(`${m} cannot be computed for the ${side} on this table`);
    return v;
  };
  const fmt = (v) => String(Number(v.toPrecision(6)));
  const b = value('base', main),
    c = value('candidate', main);
  const { higher } = METRICS[main];
  const limit = higher ? b - maxRegression * Math.abs(b) : b + maxRegression * Math.abs(b);
  const gates = [
    {
      gate: `${main} ${higher ? 'at least' : 'at most'} ${fmt(limit)} (the base's ${fmt(b)} ${higher ? 'less' : 'plus'} ${fmt(maxRegression * 100)}%)`,
      value: c,
      passed: higher ? c >= limit : c <= limit,
    },
  ];
  for (const [m, bound] of min.map((g) => [known(g[0], 'min'), g[1]]))
    gates.push({
      gate: `${m} at least ${bound}`,
      value: value('candidate', m),
      passed: value('candidate', m) >= bound,
    });
  for (const [m, bound] of max.map((g) => [known(g[0], 'max'), g[1]]))
    gates.push({ gate: `${m} at most ${bound}`, value: value('candidate', m), passed: value('candidate', m) <= bound });
  return gates;
}

/** The comparison and its gates as the command prints them. */
export function formatReport(report, gates, table) {
  const fmt = (v) => (v === null || v === undefined ? '-' : v.toFixed(4));
  const lines = [
    `${table}: ${report.rows} rows compared as ${report.task}${report.refused.length ? `, ${report.refused.length} left out (refused by a model)` : ''}`,
  ];
  const rows = [['', `base: ${report.base.name}`, `candidate: ${report.candidate.name}`, 'change']];
  for (const [m, { title, task }] of Object.entries(METRICS)) {
    if (task !== report.task) continue;
    const [b, c] = [report.base.metrics[m], report.candidate.metrics[m]];
    rows.push([
      title,
      fmt(b),
      fmt(c),
      b === null || c === null ? '-' : `${c - b >= 0 ? '+' : ''}${(c - b).toFixed(4)}`,
    ]);
  }
  if (report.task === 'classification') {
    const [b, c] = [report.base.metrics.perClass, report.candidate.metrics.perClass];
    for (const k of [...new Set([...Object.keys(b), ...Object.keys(c)])].sort(byClass))
      rows.push([`F1 of class ${k}`, fmt(b[k]?.f1 ?? 0), fmt(c[k]?.f1 ?? 0), '']);
  }
  rows.push(['ms a row (median, 1 row)', ...report.latencyMs.map((v) => (v === null ? '-' : v.toFixed(3))), '']);
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  for (const r of rows)
    lines.push(
      r
        .map((cell, j) => cell.padEnd(widths[j]))
        .join('  ')
        .trimEnd(),
    );
  const a = report.agreement;
  const diff = (d) => (d ? `differ by ${fmt(d.mean)} on average, ${fmt(d.max)} at most` : 'cannot be compared');
  lines.push(
    report.task === 'regression'
      ? `agreement: predictions ${diff(a.values)}`
      : `agreement: ${(a.labels * 100).toFixed(1)}% of labels the same; scores ${diff(a.scores)}`,
  );
  for (const g of gates) lines.push(`${g.passed ? 'PASS' : 'FAIL'}  ${g.gate}: the candidate's is ${fmt(g.value)}`);
  return lines.join('\n');
}
