#!/usr/bin/env node
// The edgeinfer command line, on the same wasm core as the library.
import { readFile } from 'node:fs/promises';
import { Model } from './node.js';

const HELP = `edgeinfer: run ONNX models as WebAssembly

Usage:
  edgeinfer inspect MODEL.onnx
      Print the model's inputs and outputs (names, element types, shapes).
  edgeinfer predict MODEL.onnx --input JSON
      Run one prediction and print the outputs as JSON. JSON maps input names to nested
      arrays ({"x": [[1, 2], [3, 4]]}) or to {"data": [...], "shape": [...]};
      --input @file.json reads it from a file.

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
  const shape = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const data = shape.length ? value.flat(shape.length - 1) : [value];
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected || data.some(Array.isArray)) {
    throw new UsageError(`input '${name}': the nested arrays are not rectangular (shape [${shape}] from the first elements)`);
  }
  return { data, shape };
}

function toJson(outputs) {
  const result = {};
  for (const [name, t] of Object.entries(outputs)) {
    const flat = Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v));
    result[name] = { dtype: t.dtype, shape: t.shape, data: nest(flat, t.shape) };
  }
  return result;
}

function nest(flat, shape) {
  if (shape.length <= 1) return flat;
  const step = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
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
