// ONNX conformance of the JS package against onnxruntime-web (wasm backend, one thread), in one
// Node run: the cases tests/conformance/make_cases.py writes (onnx's backend node tests with
// tensor inputs and outputs) whose element types JS holds (cases.json `exotic` empty), each
// read from its case.json, run through both runtimes and compared with onnx's expected outputs
// as tests/conformance/runner.rs compares them. Prints passed / wrong / refused per runtime
// (and the native runner's count from its last results.json, where there is one), the
// operators where one runtime passes cases the other does not, and writes every case's
// outcome to .cache/conformance/js-results.json (js-results-only.json for an --only run).
//
// Cases run in child processes, a chunk at a time per runtime: a case that aborts its process
// or runs past --timeout is counted `crashed` and the chunk goes on in a fresh process.
//   node bench/conformance.mjs [--only NAME,...] [--runtimes edgeinfer,onnxruntime-web]
//                              [--timeout S] [--chunk N] [--jobs N] [--cases DIR]
// EDGEINFER_PACKAGE=DIR measures another package directory (an unpacked tarball, say).
import { execFileSync, fork } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { half } from '../tests/suite/assert.mjs';
import { decodeTensor } from '../tests/suite/corpus.mjs';
import { root } from './paths.mjs';
import { RUNTIMES } from './runtimes.mjs';
import { numberArg } from './timing.mjs';

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const CASES = arg('cases') ?? join(root, '.cache/conformance/cases');
const NATIVE = join(root, '.cache/conformance/results.json');
/** Where the outcomes go: --only runs write beside the full run's file, not over it. */
const OUT = join(root, `.cache/conformance/js-results${arg('only') ? '-only' : ''}.json`);
const NAMES = ['edgeinfer', 'onnxruntime-web'];
const OUTCOMES = ['passed', 'wrong', 'refused', 'internal', 'crashed'];

// ---- Tensors as make_cases.py writes them to case.json ----

/** A case.json tensor as a feed: `{ data, shape, dtype }`, data a typed array (or strings). */
const decode = (t) =>
  decodeTensor(t.dtype === 'string' ? { ...t, strings: t.data } : { dtype: t.dtype, shape: t.shape, b64: t.data });

// ---- The comparison: mirrors `compare` in tests/conformance/runner.rs; change both together ----

const FLOATS = new Set(['float32', 'float64', 'float16']);

/** A runtime's outputs as `[{ name, dtype, shape, data }]` (onnxruntime-web names them type/dims). */
const answersOf = (outputs) =>
  Object.entries(outputs).map(([name, t]) => ({
    name,
    dtype: t.dtype ?? t.type,
    shape: Array.from(t.shape ?? t.dims, Number),
    data: t.data,
  }));

/** `null` when the answers match onnx's expected outputs, otherwise what differs (runner.rs's words). */
function compare(answers, expected, { rtol, atol }) {
  if (answers.length !== expected.length) return `${answers.length} outputs, expected ${expected.length}`;
  for (const want of expected) {
    const name = want.name;
    const got = answers.find((a) => a.name === name);
    if (!got) return `no output '${name}'`;
    if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i]))
      return `'${name}': shape [${got.shape}], expected [${want.shape}]`;
    // runner.rs matches the two Values variants: another element type is wrong however close.
    if (got.dtype !== want.dtype) return `'${name}': ${got.dtype} values, expected ${want.dtype}`;
    // A Rust HostTensor's length follows from its shape; a JS answer's need not.
    if (got.data.length !== want.data.length)
      return `'${name}': ${got.data.length} values, expected ${want.data.length}`;
    const differs = (i, g, w) => `'${name}'[${i}]: ${g}, expected ${w}`;
    if (FLOATS.has(want.dtype)) {
      // float16 answers as bit patterns (a Uint16Array); a Float16Array holds the numbers.
      const value = (data, i) =>
        want.dtype === 'float16' && data instanceof Uint16Array ? half(data[i]) : Number(data[i]);
      for (let i = 0; i < want.data.length; i++) {
        const g = value(got.data, i),
          w = value(want.data, i);
        const close = (Number.isNaN(g) && Number.isNaN(w)) || g === w || Math.abs(g - w) <= atol + rtol * Math.abs(w);
        if (!close) return differs(i, g, w);
      }
    } else {
      // Exact: integers (int64 and uint64 as bigints), strings, and bools as truth values.
      const value = want.dtype === 'bool' ? (data, i) => Boolean(data[i]) : (data, i) => data[i];
      for (let i = 0; i < want.data.length; i++) {
        const g = value(got.data, i),
          w = value(want.data, i);
        if (g !== w) return differs(i, JSON.stringify(String(g)), JSON.stringify(String(w)));
      }
    }
  }
  return null;
}

// ---- A child: runs cases through one runtime, reporting each to the parent ----

const short = (s) => {
  s = String(s ?? '');
  return s.length > 400 ? `${s.slice(0, 400)}...` : s;
};

async function runCase(runtime, name, info) {
  const dir = join(CASES, name);
  const { inputs, outputs } = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  let session;
  try {
    session = await runtime.load(new Uint8Array(readFileSync(join(dir, 'model.onnx'))));
    const answers = await runtime.predict(session, Object.fromEntries(inputs.map((t) => [t.name, decode(t)])));
    const why = compare(
      answersOf(answers),
      outputs.map((t) => ({ name: t.name, ...decode(t) })),
      info,
    );
    return why === null ? { outcome: 'passed' } : { outcome: 'wrong', why };
  } catch (e) {
    // runner.rs: a coded error is refused, a caught panic (E_INTERNAL) internal. edgeinfer
    // promises an EdgeInferError for every failure, so one without a code is internal too;
    // onnxruntime-web's errors carry no codes and all count as refused.
    const code = e?.code ?? null;
    const internal = runtime.name === 'edgeinfer' && (code === null || code === 'E_INTERNAL');
    return { outcome: internal ? 'internal' : 'refused', code, message: short(e?.message ?? e) };
  } finally {
    try {
      if (typeof session?.release === 'function') await session.release();
      else session?.dispose?.();
    } catch {
      // Freeing is best effort; the next case starts from its own load.
    }
  }
}

const send = (message) => new Promise((resolve) => process.send(message, resolve));

async function child(name) {
  // Listening first: a message that comes while nothing listens is dropped.
  const message = new Promise((resolve) => process.once('message', resolve));
  const runtime = { name, ...(await RUNTIMES[name]()) };
  const { cases } = await message;
  await send({ ready: true });
  for (const c of cases) {
    // Sent before the case starts, so the parent knows which case a crash or hang was.
    await send({ start: c.name });
    await send({ result: { name: c.name, ...(await runCase(runtime, c.name, c)) } });
  }
  process.disconnect();
}

// ---- The parent: chunks in child processes, then the tables ----

/** Runs `cases` in one child through `name`; resolves with the results of the cases it finished. */
function runChunk(name, cases, timeoutMs) {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), ['--child', name], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: process.env,
    });
    let tail = '';
    const keep = (chunk) => (tail = (tail + chunk).slice(-600));
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const results = [];
    let ready = false,
      current = null,
      timer = null,
      timedOut = false;
    proc.on('message', (m) => {
      if (m.ready) ready = true;
      if (m.start) {
        current = m.start;
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          proc.kill('SIGKILL');
        }, timeoutMs);
      }
      if (m.result) {
        clearTimeout(timer);
        current = null;
        results.push(m.result);
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) return reject(new Error(`${name}: the child did not start (${signal ?? code}): ${tail}`));
      if (current !== null) {
        const why = timedOut ? `no answer in ${timeoutMs / 1000} s` : `the process ended (${signal ?? code})`;
        results.push({ name: current, outcome: 'crashed', message: short(`${why}: ${tail.trim()}`) });
      }
      resolve(results);
    });
    proc.send({ cases });
  });
}

/** Runs every case through every runtime, `jobs` children at a time; name -> runtime -> result. */
async function runAll(cases, names, { chunk, jobs, timeoutMs }) {
  const queue = names.flatMap((name) => {
    const tasks = [];
    for (let i = 0; i < cases.length; i += chunk) tasks.push({ name, cases: cases.slice(i, i + chunk) });
    return tasks;
  });
  const results = new Map(cases.map((c) => [c.name, {}]));
  const done = Object.fromEntries(names.map((n) => [n, 0]));
  const started = Date.now();
  async function worker() {
    for (let task = queue.shift(); task; task = queue.shift()) {
      const finished = await runChunk(task.name, task.cases, timeoutMs);
      for (const r of finished) results.get(r.name)[task.name] = r;
      done[task.name] += finished.length;
      // After a crash or a timeout, the rest of the chunk goes on in a fresh process.
      const rest = task.cases.filter((c) => !results.get(c.name)[task.name]);
      if (rest.length) queue.unshift({ name: task.name, cases: rest });
      const progress = names.map((n) => `${n} ${done[n]}/${cases.length}`).join(', ');
      process.stderr.write(`  ${progress} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}

/** The cases, made by make_cases.py when missing or older than it (as scripts/conformance.sh does). */
function readIndex() {
  const index = join(CASES, 'cases.json');
  const maker = join(root, 'tests/conformance/make_cases.py');
  const stale = () => !existsSync(index) || statSync(maker).mtimeMs > statSync(index).mtimeMs;
  const hasJson = () => {
    const { cases } = JSON.parse(readFileSync(index, 'utf8'));
    const first = cases.find((c) => c.exotic.length === 0);
    return !first || existsSync(join(CASES, first.name, 'case.json'));
  };
  if (stale() || !hasJson()) {
    console.error(`making the cases in ${CASES} (tests/conformance/make_cases.py)`);
    execFileSync(join(root, '.cache/venv/bin/python'), ['-W', 'ignore', maker, CASES], {
      stdio: 'inherit',
      env: { ...process.env, PYTHONPATH: join(root, '.cache/onnx-conformance') },
    });
  }
  return JSON.parse(readFileSync(index, 'utf8'));
}

const wasmStamp = (dir) => {
  try {
    return statSync(join(dir, 'dist/edgeinfer_bg.wasm')).mtimeMs;
  } catch {
    return null;
  }
};

function countsOf(outcomes) {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
  for (const o of outcomes) counts[o] += 1;
  return counts;
}

const pad = (s, n) => String(s).padStart(n);
const padEnd = (s, n) => String(s).padEnd(n);

async function main() {
  const index = readIndex();
  const only = arg('only')?.split(',');
  const names = arg('runtimes')?.split(',') ?? NAMES;
  for (const n of names) if (!RUNTIMES[n]) throw new Error(`no runtime '${n}': ${Object.keys(RUNTIMES).join(', ')}`);
  const exotic = index.cases.filter((c) => c.exotic.length > 0);
  const cases = index.cases.filter((c) => c.exotic.length === 0 && (!only || only.some((s) => c.name.includes(s))));
  const pkg = process.env.EDGEINFER_PACKAGE ?? root;
  const ortVersion = JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version;
  const label = {
    edgeinfer: `edgeinfer (${pkg === root ? 'js/ + dist/' : pkg})`,
    'onnxruntime-web': `onnxruntime-web ${ortVersion}`,
  };

  const stamp = wasmStamp(pkg);
  const started = Date.now();
  console.error(`${cases.length} cases through ${names.join(' and ')}`);
  const results = await runAll(cases, names, {
    chunk: numberArg('chunk', 200),
    jobs: numberArg('jobs', 1),
    timeoutMs: numberArg('timeout', 60) * 1000,
  });
  const seconds = (Date.now() - started) / 1000;
  const rebuilt = wasmStamp(pkg) !== stamp;

  // The native runner's last outcomes for the same cases, where scripts/conformance.sh has run.
  let native = null;
  if (existsSync(NATIVE) && !only) {
    const byName = new Map(JSON.parse(readFileSync(NATIVE, 'utf8')).map((r) => [r.name, r]));
    if (cases.every((c) => byName.has(c.name))) native = { byName, mtime: statSync(NATIVE).mtime };
  }

  const outcome = (c, n) => results.get(c.name)[n].outcome;
  const totals = Object.fromEntries(names.map((n) => [n, countsOf(cases.map((c) => outcome(c, n)))]));
  console.log(
    `onnx ${index.onnx} node tests with tensor inputs and outputs: ${cases.length} cases with JS element types` +
      ` (${exotic.length} with bfloat16, float8, int4, ... not run), ${seconds.toFixed(0)} s`,
  );
  const w = 40;
  console.log(`${padEnd('runtime', w)} ${OUTCOMES.map((o) => pad(o, 8)).join(' ')}`);
  for (const n of names) console.log(`${padEnd(label[n], w)} ${OUTCOMES.map((o) => pad(totals[n][o], 8)).join(' ')}`);
  if (native) {
    const c = countsOf(cases.map((x) => native.byName.get(x.name).outcome));
    const when = native.mtime.toISOString().slice(0, 16).replace('T', ' ');
    console.log(`${padEnd(`native (results.json, ${when})`, w)} ${OUTCOMES.map((o) => pad(c[o] ?? 0, 8)).join(' ')}`);
  }

  // onnx 1.23.2 stamps its newest cases IR 14 and opset 25 or 26, which onnxruntime-web 1.31.1
  // will not load, whatever operators they hold.
  const NEWER = /Unsupported model IR version|only \*guarantees\* support/;
  const stamped = (c) => {
    const r = results.get(c.name)['onnxruntime-web'];
    return r?.outcome === 'refused' && NEWER.test(r.message);
  };
  if (names.includes('onnxruntime-web')) {
    const refused = totals['onnxruntime-web'].refused;
    const n = cases.filter(stamped).length;
    console.log(`(${n} of onnxruntime-web's ${refused} refusals: a model's IR or opset version newer than it loads)`);
  }

  // Per operator: the cases one runtime passes and the other does not.
  if (names.length === 2) {
    const [a, b] = names;
    const ops = new Map();
    for (const c of cases) {
      const row = ops.get(c.op) ?? { cases: 0, [a]: 0, [b]: 0, onlyA: [], onlyB: [], stamped: 0 };
      ops.set(c.op, row);
      row.cases += 1;
      const pa = outcome(c, a) === 'passed',
        pb = outcome(c, b) === 'passed';
      row[a] += pa;
      row[b] += pb;
      if (pa && !pb) row.onlyA.push(c.name);
      if (pb && !pa) row.onlyB.push(c.name);
      if (pa !== pb && stamped(c)) row.stamped += 1;
    }
    const differing = [...ops].filter(([, r]) => r.onlyA.length + r.onlyB.length > 0);
    differing.sort(
      ([x, r], [y, s]) =>
        Math.abs(s.onlyA.length - s.onlyB.length) - Math.abs(r.onlyA.length - r.onlyB.length) || x.localeCompare(y),
    );
    const onlyA = cases.filter((c) => outcome(c, a) === 'passed' && outcome(c, b) !== 'passed').length;
    const onlyB = cases.filter((c) => outcome(c, b) === 'passed' && outcome(c, a) !== 'passed').length;
    const onlyStamped = differing.reduce((n, [, r]) => n + r.stamped, 0);
    console.log(
      `\n${onlyA} cases pass only in ${a}, ${onlyB} only in ${b} (${onlyStamped} of these` +
        ` ${onlyA + onlyB} refused by onnxruntime-web for the model's version); by operator:`,
    );
    const columns = [
      ['operator', 34],
      ['cases', 6],
      [a, 10],
      [b, 16],
      [`only ${a}`, 15],
      [`only ${b}`, 21],
      ['of those, version', 18],
    ];
    const line = (cells) => cells.map((v, i) => (i ? pad(v, columns[i][1]) : padEnd(v, columns[i][1]))).join(' ');
    console.log(line(columns.map(([title]) => title)));
    for (const [op, r] of differing)
      console.log(line([op, r.cases, r[a], r[b], r.onlyA.length, r.onlyB.length, r.stamped]));
  }

  // What the package gets wrong, and what the native build passes that the package does not.
  if (names.includes('edgeinfer')) {
    for (const c of cases) {
      const r = results.get(c.name).edgeinfer;
      if (r.outcome === 'wrong') console.log(`WRONG ${c.name}: ${r.why}`);
      if (r.outcome === 'internal' || r.outcome === 'crashed')
        console.log(`${r.outcome.toUpperCase()} ${c.name}: ${r.message}`);
    }
    if (native) {
      const lost = cases.filter(
        (c) => native.byName.get(c.name).outcome === 'passed' && outcome(c, 'edgeinfer') !== 'passed',
      );
      const gained = cases.filter(
        (c) => native.byName.get(c.name).outcome !== 'passed' && outcome(c, 'edgeinfer') === 'passed',
      );
      if (lost.length)
        console.log(`passed natively, not by the package (${lost.length}): ${lost.map((c) => c.name).join(', ')}`);
      if (gained.length)
        console.log(`passed by the package, not natively (${gained.length}): ${gained.map((c) => c.name).join(', ')}`);
    }
  }
  if (rebuilt)
    console.log(`NOTE: ${join(pkg, 'dist/edgeinfer_bg.wasm')} changed during the run: rerun for one build's numbers`);

  writeFileSync(
    OUT,
    JSON.stringify(
      {
        onnx: index.onnx,
        package: pkg,
        onnxruntimeWeb: ortVersion,
        seconds: Math.round(seconds),
        rebuiltDuringRun: rebuilt,
        cases: cases.length,
        exoticNotRun: exotic.length,
        totals,
        results: cases.map((c) => ({ name: c.name, op: c.op, ...results.get(c.name) })),
      },
      null,
      1,
    ),
  );
  console.log(`\nevery case's outcome: ${OUT}`);
}

const childOf = arg('child');
if (childOf) await child(childOf);
else await main();
