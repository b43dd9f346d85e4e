#!/usr/bin/env node
// The edgeinfer command line, on the same wasm core as the library.
import { readFile, writeFile } from 'node:fs/promises';
import { Model, buildReference } from './node.js';
import { scaffoldWorker } from './scaffold.js';
import { nest, shapeOf } from './nested.js';

const HELP = `edgeinfer: run ONNX models as WebAssembly

Usage:
  edgeinfer inspect MODEL.onnx
      Print the model's inputs and outputs (names, element types, shapes).
  edgeinfer predict MODEL.onnx --input JSON
      Run one prediction and print the outputs as JSON. JSON maps input names to nested
      arrays ({"x": [[1, 2], [3, 4]]}) or to {"data": [...], "shape": [...]};
      --input @file.json reads it from a file.
  edgeinfer worker MODEL.onnx [MODEL.onnx ...] [-o DIR] [--force]
      Write a Cloudflare Workers project serving the models (KServe v2 and /predict)
      into DIR (default: ./edgeinfer-worker), with a local API key in .dev.vars.
      Then: cd DIR && npm install && npx wrangler dev   (or: npx wrangler deploy)
      A MODEL.reference.json beside a model is bundled as its drift reference.
  edgeinfer reference SAMPLE.csv [-o reference.json] [--model MODEL.onnx] [--categorical a,b]
      Reference statistics of a training sample (CSV with a header row) for drift
      detection: per-feature quantiles, histograms and category frequencies; with
      --model, named as the model names its features, and with its predictions.
      Load it with Model.load(model, { reference }).

Options:
  -h, --help     this help

Exit codes: 0 success, 1 the model or the input was refused, 2 bad usage.`;

class UsageError extends Error {}

function parseArgs(argv) {
  const positional = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') flags.help = true;
    else if (a === '--force') flags.force = true;
    else if (a === '-o') flags.out = argv[++i];
    else if (a.startsWith('--')) {
      const [key, inline] = a.slice(2).split(/=(.*)/s);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${key} needs a value`);
      flags[key] = value;
    } else positional.push(a);
  }
  return { positional, flags };
}

/** Nested arrays to { data, shape }; the rows must be rectangular. */
export function toFeed(name, value) {
  if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  const shape = shapeOf(value);
  if (!shape) throw new UsageError(`input '${name}': the nested arrays are not rectangular`);
  return { data: shape.length ? value.flat(Infinity) : [value], shape };
}

function toJson(outputs) {
  const result = {};
  for (const [name, t] of Object.entries(outputs)) {
    const flat = Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v));
    result[name] = { dtype: t.dtype, shape: t.shape, data: nest(flat, t.shape) };
  }
  return result;
}

async function loadModel(path) {
  if (!path) throw new UsageError('name the model file');
  return Model.load(path);
}

const dims = (shape) => `[${shape.join(', ')}]`;

async function main(argv) {
  const { positional, flags } = parseArgs(argv);
  const [command, ...rest] = positional;
  if (flags.help || !command) {
    console.log(HELP);
    return command || flags.help ? 0 : 2;
  }
  if (command === 'inspect') {
    const model = await loadModel(rest[0]);
    console.log('inputs:');
    for (const i of model.inputs) console.log(`  ${i.name}: ${i.dtype} ${dims(i.shape)}`);
    console.log('outputs:');
    for (const o of model.outputs) console.log(`  ${o.name}: ${o.dtype} ${dims(o.shape)}`);
    const meta = Object.entries(model.metadata);
    if (meta.length) {
      console.log('metadata:');
      for (const [k, v] of meta) console.log(`  ${k}: ${v}`);
    }
    return 0;
  }
  if (command === 'predict') {
    const model = await loadModel(rest[0]);
    if (!flags.input) throw new UsageError('predict needs --input JSON (or --input @file.json)');
    const text = flags.input.startsWith('@') ? await readFile(flags.input.slice(1), 'utf8') : flags.input;
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--input is not JSON: ${e.message}`);
    }
    const feeds = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, toFeed(k, v)]));
    const started = performance.now();
    const outputs = await model.predict(feeds);
    const ms = performance.now() - started;
    const lines = Object.entries(toJson(outputs)).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    console.log(`{\n${lines.join(',\n')}\n}`);
    console.error(`predicted in ${ms.toFixed(2)} ms`);
    return 0;
  }
  if (command === 'worker') {
    if (!rest.length) throw new UsageError('worker needs at least one MODEL.onnx');
    const out = flags.out ?? 'edgeinfer-worker';
    let made;
    try {
      made = await scaffoldWorker({ models: rest, out, force: flags.force });
    } catch (e) {
      console.error(`edgeinfer: ${e.message}`);
      return 1;
    }
    console.log(`wrote ${out}: a Worker serving ${made.models.join(', ')}`);
    console.log(`  cd ${out} && npm install && npx wrangler dev`);
    console.log(`  local API key (in ${out}/.dev.vars): ${made.devKey}`);
    console.log(`  curl -H "Authorization: Bearer ${made.devKey}" http://localhost:8787/v2/models/${made.models[0]}`);
    return 0;
  }
  if (command === 'reference') {
    if (!rest[0]) throw new UsageError('reference needs a SAMPLE.csv');
    const csv = await readFile(rest[0], 'utf8');
    const options = flags.categorical ? { categorical: flags.categorical.split(',').map((s) => s.trim()) } : {};
    const reference = flags.model ? await (await loadModel(flags.model)).buildReference(csv, options) : await buildReference(csv, options);
    const text = `${JSON.stringify(reference, null, 2)}\n`;
    if (flags.out) await writeFile(flags.out, text);
    else process.stdout.write(text);
    const kinds = reference.features.map((f) => f.type);
    console.error(`reference of ${reference.rows} rows: ${kinds.filter((k) => k === 'numeric').length} numeric and ${kinds.filter((k) => k === 'categorical').length} categorical features${reference.prediction ? ', and the predictions' : ''}${flags.out ? ` in ${flags.out}` : ''}`);
    return 0;
  }
  throw new UsageError(`unknown command '${command}'; see edgeinfer --help`);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    if (e instanceof UsageError) {
      console.error(`edgeinfer: ${e.message}`);
      process.exitCode = 2;
    } else {
      console.error(`edgeinfer: ${e.code ? `${e.code}: ` : ''}${e.message}`);
      process.exitCode = 1;
    }
  },
);
