// `edgeinfer batch`, run as a user runs it: files in, files out, rejects, threads, resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageDir, root } from './harness.mjs';
import { Model } from '../../js/node.js';
import { csvFloat32Cells, readCsvFloats } from '../../js/core.js';
import { csvRecords } from '../../js/chunks.js';
import { readRows } from '../../js/table.js';

const cli = join(packageDir, 'js/cli.js');
const run = async (...args) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};
const iris = join(root, 'examples/iris.onnx');
const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-batch-'));
const HEADER = 'id,sepal_length,sepal_width,petal_length,petal_width';

/** `n` rows of iris-like features, deterministic. */
function rows(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const f = [4.3 + ((i * 7) % 36) / 10, 2 + ((i * 3) % 24) / 10, 1 + ((i * 11) % 59) / 10, 0.1 + ((i * 5) % 25) / 10];
    out.push([`r${i}`, ...f.map((v) => v.toFixed(1))]);
  }
  return out;
}
const csv = (records) => `${HEADER}\n${records.map((r) => r.join(',')).join('\n')}\n`;
const parseOut = (text) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.split(','));

/** What the library answers for the same rows, to check the files against. */
async function expected(records) {
  const model = await Model.load(iris);
  const out = await model.predict({
    features: {
      data: Float32Array.from(records.flatMap((r) => r.slice(1).map((v) => (v === '' ? NaN : Number(v))))),
      shape: [records.length, 4],
    },
  });
  model.dispose();
  return records.map((r, i) => ({
    id: r[0],
    label: Number(out.label.data[i]),
    probabilities: Array.from(out.probabilities.data.slice(i * 3, i * 3 + 3)),
  }));
}

test('CSV in, CSV out: one row per row in order, kept columns, outputs as columns, bad rows rejected', async () => {
  const good = rows(5);
  // Line 4 has a value that is no number, line 6 too few fields, line 7 a quoted id across two
  // lines (so the next record starts on line 9), line 9 an empty feature: a missing value, NaN.
  const text =
    `${HEADER}\n${good[0].join(',')}\n${good[1].join(',')}\nbad,abc,1,1,1\n${good[2].join(',')}\nshort,1,2,3\n` +
    `"two\nlines",${good[3].slice(1).join(',')}\nempty,,1,1,1\n${good[4].join(',')}\n`;
  writeFileSync(join(dir, 'in.csv'), text);
  const r = await run('batch', iris, '--input', join(dir, 'in.csv'), '--output', join(dir, 'out.csv'), '--keep', 'id');
  assert.equal(r.code, 3, `exits 3 when rows were rejected: ${r.stderr}`);
  assert.match(r.stderr, /scored 6 rows .*; 2 rejected, listed in .*out\.csv\.rejects\.csv/);
  const out = readFileSync(join(dir, 'out.csv'), 'utf8');
  const [header, ...lines] = out.trim().split('\n');
  assert.equal(header, 'id,probabilities_0,probabilities_1,probabilities_2,label');
  const want = await expected([
    good[0],
    good[1],
    good[2],
    ['two', ...good[3].slice(1)],
    ['empty', '', '1', '1', '1'],
    good[4],
  ]);
  // The quoted id spans two lines of the output, quoted again.
  const joined = out.replace('"two\nlines"', 'two-lines');
  const got = parseOut(joined).slice(1);
  assert.deepEqual(
    got.map((l) => l[0]),
    ['r0', 'r1', 'r2', 'two-lines', 'empty', 'r4'],
  );
  assert.equal(lines.length, 7, 'the quoted line break is kept');
  got.forEach((l, i) => {
    assert.equal(Number(l[4]), want[i].label, `row ${i}'s label`);
    l.slice(1, 4).forEach((p, j) =>
      assert.equal(p === '' ? NaN : Math.fround(Number(p)), want[i].probabilities[j], `row ${i}'s p${j}`),
    );
  });
  const rejects = readFileSync(join(dir, 'out.csv.rejects.csv'), 'utf8');
  assert.equal(
    rejects,
    'line,reason\n' + '4,"column \'sepal_length\' ""abc"" is not a number"\n' + '6,"4 fields, the header has 5"\n',
  );
});

test("the core's CSV reader (float32 matrices) and the JS one read the same rows, values and reasons", async () => {
  (await Model.load(iris)).dispose(); // starts the wasm the core's reader runs in
  const header = ['id', 'a', 'b', 'c'];
  const text =
    'r0,1.5,-2e3,0.1\r\n' + // CRLF
    'r1, 7 ,,NaN\n' + // spaces around a number, an empty (missing) value, NaN
    '\n' + // a blank line
    '"r\n2",1,2,3\n' + // a quoted field across two lines
    'r3,abc,1,1\n' + // no number
    'r4,1,2\n' + // too few fields
    '"r,5",1,2,3,4\n' + // too many, with a quoted comma
    'r6,1.00000005960464477550,3.4028235e38,1e-46\n'; // rounding through f64; overflow to f32; underflow
  const plan = { inputs: [{ name: 'x', dtype: 'float32', columns: [1, 2, 3], shape: [3] }], kept: [0] };
  const js = [];
  const viaJs = readRows(csvRecords(text, 2), { plan, header, input: 'csv' }, js);
  const core = readCsvFloats(new TextEncoder().encode(text), header, [1, 2, 3], [0], 2);
  assert.deepEqual(
    Array.from(core.lines),
    viaJs.rows.map((r) => r.line),
  );
  assert.deepEqual(
    core.kept,
    viaJs.rows.map((r) => r.fields[0]),
  );
  assert.deepEqual(Array.from(core.values), Array.from(viaJs.feeds[0].data.subarray(0, core.values.length)));
  assert.deepEqual(core.rejects, js);
  assert.deepEqual(core.kept, ['r0', 'r1', 'r\n2', 'r6'], 'the rows read');
});

test('float32 outputs are written in the fewest digits that read back as the same float32', async () => {
  (await Model.load(iris)).dispose(); // starts the wasm the writer runs in
  // The reference: the shortest of toPrecision(1..9) that rounds back to the value, as JS
  // writes that number.
  const shortest = (v) => {
    if (Number.isNaN(v)) return '';
    if (!Number.isFinite(v)) return String(v);
    for (let p = 1; ; p++) if (Math.fround(Number(v.toPrecision(p))) === v) return String(Number(v.toPrecision(p)));
  };
  const bits = new Uint32Array(200000);
  for (let i = 0, x = 12345; i < bits.length; i++) bits[i] = x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const values = new Float32Array(bits.buffer);
  values.set([0, -0, 1, 0.1, 1e21, 1e-7, 1e-6, 123456789, NaN, Infinity, -Infinity, 3.4028235e38, 1e-45]);
  const lines = csvFloat32Cells(values, 4).split('\n');
  assert.equal(lines.length, values.length / 4);
  lines.forEach((line, r) =>
    line
      .slice(1)
      .split(',')
      .forEach((cell, j) =>
        assert.equal(cell, shortest(values[r * 4 + j]), `value ${r * 4 + j}: ${values[r * 4 + j]}`),
      ),
  );
});

test('threads give the same file as one thread, chunk by chunk in order', async () => {
  const records = rows(3000);
  writeFileSync(join(dir, 'many.csv'), csv(records));
  const outs = [];
  for (const threads of ['1', '2']) {
    const out = join(dir, `many-${threads}.csv`);
    const r = await run(
      'batch',
      iris,
      '-i',
      join(dir, 'many.csv'),
      '-o',
      out,
      '--keep',
      'id',
      '--threads',
      threads,
      '--batch-size',
      '100',
    );
    assert.equal(r.code, 0, r.stderr);
    outs.push(readFileSync(out, 'utf8'));
  }
  assert.equal(outs[1], outs[0]);
  const got = parseOut(outs[0]).slice(1);
  assert.equal(got.length, 3000);
  const want = await expected(records);
  got.forEach((l, i) => assert.equal(`${l[0]}:${l[4]}`, `${want[i].id}:${want[i].label}`));
  assert.ok(!existsSync(join(dir, 'many-1.csv.rejects.csv')), 'no rejects file when none were rejected');
  assert.ok(!existsSync(join(dir, 'many-1.csv.progress.json')), 'no checkpoint once finished');
});

test('JSON Lines in and out: objects keyed by column, outputs as values and arrays', async () => {
  const records = rows(3);
  const names = HEADER.split(',');
  const lines = records.map((r) => JSON.stringify(Object.fromEntries(r.map((v, i) => [names[i], i ? Number(v) : v]))));
  writeFileSync(join(dir, 'in.jsonl'), `${lines[0]}\n[1,2]\n${lines[1]}\n\n${lines[2]}\n`);
  const r = await run('batch', iris, '-i', join(dir, 'in.jsonl'), '-o', join(dir, 'out.jsonl'), '--keep', 'id');
  assert.equal(r.code, 3, r.stderr);
  const got = readFileSync(join(dir, 'out.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const want = await expected(records);
  assert.deepEqual(
    got.map((o) => [o.id, o.label, o.probabilities.map(Math.fround)]),
    want.map((w) => [w.id, w.label, w.probabilities]),
  );
  assert.match(
    readFileSync(join(dir, 'out.jsonl.rejects.csv'), 'utf8'),
    /^2,not a JSON object: is not a JSON object$/m,
  );
});

test('a killed job resumed writes every row exactly once', async () => {
  const records = rows(60000);
  writeFileSync(join(dir, 'big.csv'), csv(records));
  const args = ['batch', iris, '-i', join(dir, 'big.csv'), '--keep', 'id', '--threads', '1', '--batch-size', '200'];
  const whole = await run(...args, '-o', join(dir, 'whole.csv'));
  assert.equal(whole.code, 0, whole.stderr);
  const out = join(dir, 'killed.csv');
  const child = spawn(process.execPath, [cli, ...args, '-o', out], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // Killed once some chunks are written and checkpointed, mid-way.
  for (let i = 0; !existsSync(`${out}.progress.json`) || statSync(out).size < 200000; i++) {
    assert.ok(i < 2000, 'the job writes a checkpoint within 20 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await exited;
  const partial = statSync(out).size;
  assert.ok(partial < statSync(join(dir, 'whole.csv')).size, 'killed before it finished');
  const resumed = await run(...args, '-o', out, '--resume');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(readFileSync(out, 'utf8'), readFileSync(join(dir, 'whole.csv'), 'utf8'));
  const again = await run(...args, '-o', out, '--resume');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /nothing to resume/);
});

test('a quote never closed: the rest is one rejected record, or past 16 MB, a refusal that says where', async () => {
  const body = rows(20)
    .map((r) => r.join(','))
    .join('\n');
  writeFileSync(join(dir, 'open.csv'), `${HEADER}\nr0,5.1,3.5,1.4,0.2\nr1,"6.7,3.0,5.2,2.3\n${body}\n`);
  const r = await run('batch', iris, '-i', join(dir, 'open.csv'), '-o', join(dir, 'open.out.csv'), '--keep', 'id');
  assert.equal(r.code, 3, r.stderr);
  assert.match(readFileSync(join(dir, 'open.out.csv.rejects.csv'), 'utf8'), /^3,"2 fields, the header has 5"$/m);
  const line = 'r,1.0,2.0,3.0,4.0\n';
  writeFileSync(join(dir, 'huge.csv'), `${HEADER}\nr1,"6.7,3.0,5.2,2.3\n${line.repeat(Math.ceil(17e6 / line.length))}`);
  const huge = await run('batch', iris, '-i', join(dir, 'huge.csv'), '-o', join(dir, 'huge.out.csv'));
  assert.equal(huge.code, 1, huge.stderr);
  // The byte the open record starts at.
  assert.match(
    huge.stderr,
    new RegExp(`no record ends within 16 MB after byte ${HEADER.length + 1}: a quoted field is never closed`),
  );
  // A chunk past 16 MB whose quotes close is no refusal.
  const wide = `${'x'.repeat(200)},1.0,2.0,3.0,4.0\n`;
  writeFileSync(join(dir, 'wide.csv'), `${HEADER}\n${wide.repeat(Math.ceil(17e6 / wide.length))}`);
  const out = join(dir, 'wide.out.csv');
  const big = await run(
    'batch',
    iris,
    '-i',
    join(dir, 'wide.csv'),
    '-o',
    out,
    '--keep',
    'id',
    '--batch-size',
    '100000',
  );
  assert.equal(big.code, 0, big.stderr);
  assert.equal(readFileSync(out, 'utf8').split('\n').length, Math.ceil(17e6 / wide.length) + 2);
});

test('bad usage exits 2 naming what is wrong; a table the model cannot read, 1', async () => {
  writeFileSync(join(dir, 'ok.csv'), csv(rows(2)));
  writeFileSync(join(dir, 'nameless.csv'), 'a,b\n1,2\n');
  writeFileSync(join(dir, 'empty.csv'), '');
  const garbage = join(dir, 'garbage.onnx');
  writeFileSync(garbage, 'not a model');
  const input = join(dir, 'ok.csv');
  for (const [args, code, message] of [
    [['batch', iris, '-o', join(dir, 'x.csv')], 2, /batch needs --input FILE and --output FILE/],
    [['batch', iris, '-i', input, '-o', join(dir, 'x.txt')], 2, /cannot tell its format.*--format csv\|jsonl/],
    [
      ['batch', iris, '-i', input, '-o', join(dir, 'x.csv'), '--threads', '0'],
      2,
      /--threads is a whole number of at least 1, got '0'/,
    ],
    [
      ['batch', iris, '-i', input, '-o', join(dir, 'x.csv'), '--batch-size', 'ten'],
      2,
      /--batch-size is a whole number/,
    ],
    [['batch', iris, '-i', input, '-o', join(dir, 'x.csv'), '--keep', 'nope'], 1, /no column 'nope' \(--keep\)/],
    [['batch', iris, '-i', join(dir, 'nameless.csv'), '-o', join(dir, 'x.csv')], 1, /no column 'sepal_length'/],
    [['batch', iris, '-i', join(dir, 'empty.csv'), '-o', join(dir, 'x.csv')], 1, /empty/],
    [['batch', iris, '-i', join(dir, 'missing.csv'), '-o', join(dir, 'x.csv')], 1, /missing\.csv: ENOENT/],
    [['batch', iris, '-i', input, '-o', join(dir, 'x.csv'), '--resume'], 1, /nothing to resume/],
    [['batch', garbage, '-i', input, '-o', join(dir, 'x.csv'), '--threads', '1'], 1, /garbage\.onnx: E_MODEL_PARSE/],
    [['batch', garbage, '-i', input, '-o', join(dir, 'x.csv'), '--threads', '2'], 1, /garbage\.onnx: E_MODEL_PARSE/],
  ]) {
    const r = await run(...args);
    assert.equal(r.code, code, `${args.slice(2).join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
