#!/usr/bin/env node
// The edgeinfer command line, on the same wasm core as the library.
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { Model, buildReference } from './node.js';
import { api } from './node-api.js';
import { buildBundle } from './build.js';
import { p256KeyPair, signModel, verifyModel } from './model-signing.js';
import { WASM_FILES } from './variant.js';
import { scaffoldWorker } from './scaffold.js';
import { nest, shapeOf } from './nested.js';
import { parsePredictRequest } from './server/instances.js';
import { defaultThreads, runBatch } from './batch.js';
import { TableError, instanceLayout } from './table.js';
import { CompareError, checkGates, compareModels, formatReport } from './compare.js';

/** Each command: what it takes (node:util parseArgs options) and its usage. */
const SPECS = {
  build: {
    options: {
      name: { type: 'string' },
      version: { type: 'string' },
      sign: { type: 'string' },
      features: { type: 'string' },
      reference: { type: 'string' },
      categorical: { type: 'string' },
      guard: { type: 'string' },
      'guard-margin': { type: 'string' },
      'no-snapshot': { type: 'boolean' },
      simd: { type: 'string' },
      threads: { type: 'boolean' },
      out: { type: 'string', short: 'o' },
    },
    usage: `edgeinfer build MODEL.onnx --name NAME --version V [--sign NAME.key] [--features a,b,...]
                [--reference train.csv|reference.json [--categorical a,b]]
                [--guard flag|clip|refuse [--guard-margin 0.1]] [--no-snapshot]
                [--simd simd128|relaxed-simd | --threads] [-o DIR]
    Write DIR/NAME.wasm (the runtime with the model, its manifest and signature
    embedded), NAME.js and NAME.worker.js (modules exporting manifest, load and predict),
    NAME.d.ts (types from the model's inputs and outputs) and NAME.runtime/. DIR
    defaults to ./dist. --reference embeds drift reference statistics: of a training
    sample (CSV, with the model's predictions on it) or as \`edgeinfer reference\` wrote them.
    --guard checks every prediction's features against that reference (the guard load
    option, which a load can override): refuse out-of-range values, clip them, or flag
    them; --guard-margin widens the allowed range by that share of it (default 0.1).
    The bundle also stores the model as loaded (a memory snapshot), which NAME.js
    restores instead of parsing the ONNX: a faster start for a bigger file.
    --no-snapshot leaves it out. --simd relaxed-simd embeds the build whose kernels fuse
    multiply and add (Chrome, Workers, Node 22 and later; it does not start elsewhere);
    simd128, the default, runs everywhere. --threads embeds the threads build (relaxed
    SIMD and a shared memory): NAME.js predicts on several threads in Node and in
    cross-origin isolated pages, and starts nowhere else (not in Workers).`,
  },
  keygen: {
    options: { out: { type: 'string', short: 'o' }, force: { type: 'boolean' }, algorithm: { type: 'string' } },
    usage: `edgeinfer keygen -o NAME [--algorithm ed25519|p256] [--force]
    Write a key pair: NAME.key (PKCS#8 PEM, keep it secret) and NAME.pub. Ed25519, the
    default, signs bundles; P-256 signs models as OpenSSF model-signing does (sign).`,
  },
  sign: {
    options: { key: { type: 'string' }, signature: { type: 'string' } },
    usage: `edgeinfer sign MODEL.onnx --key NAME.key [--signature FILE]
    Write an OpenSSF model-signing signature of the file (default MODEL.sig): a Sigstore
    bundle v0.3 over an in-toto statement, as \`model_signing sign key\` writes, which
    \`model_signing verify key\` and edgeinfer verify check. The key is an EC key on P-256,
    P-384 or P-521 (PEM, as openssl or edgeinfer keygen --algorithm p256 write it).`,
  },
  verify: {
    options: { 'public-key': { type: 'string' }, signature: { type: 'string' } },
    usage: `edgeinfer verify BUNDLE.wasm [--public-key NAME.pub]
edgeinfer verify MODEL.onnx --signature FILE --public-key NAME.pub
    Check the bundle (runtime code and model digests; the signature with a key) and
    print its manifest; or check a model file's model-signing signature. Exit 0 when it
    holds, 1 when it does not.`,
  },
  inspect: {
    options: { 'public-key': { type: 'string' } },
    usage: `edgeinfer inspect MODEL.onnx|BUNDLE.wasm [--public-key NAME.pub]
    Print inputs and outputs, operators' metadata, size, and a bundle's manifest.`,
  },
  predict: {
    options: { input: { type: 'string' }, csv: { type: 'string' }, 'public-key': { type: 'string' } },
    usage: `edgeinfer predict MODEL.onnx|BUNDLE.wasm (--input JSON | --csv FILE) [--public-key NAME.pub]
    Predict once and print the outputs as JSON. JSON maps input names to nested arrays
    ({"x": [[1, 2], [3, 4]]}) or to {"data": [...], "shape": [...]}; --input @file.json
    reads it from a file. A CSV's header names the model's features or inputs; each
    row is one instance.`,
  },
  batch: {
    options: {
      input: { type: 'string', short: 'i' },
      output: { type: 'string', short: 'o' },
      format: { type: 'string' },
      'batch-size': { type: 'string' },
      keep: { type: 'string' },
      features: { type: 'string' },
      threads: { type: 'string' },
      rejects: { type: 'string' },
      resume: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      'public-key': { type: 'string' },
    },
    usage: `edgeinfer batch MODEL.onnx|BUNDLE.wasm --input FILE --output FILE [--format csv|jsonl]
                [--keep id,...] [--features a,b,...] [--batch-size N] [--threads N]
                [--rejects FILE] [--resume] [--quiet] [--public-key NAME.pub]
    Score a file of any size, a chunk of --batch-size lines (default 4096) at a time, on
    --threads worker threads (default: one per core), writing one output row per input
    row in input order: CSV or JSON Lines, by extension or --format. Columns fill the
    model's features by name (its feature names, or --features), or every column not
    kept, in order; --keep copies columns through. An output of shape [N] or [N, 1] is
    one column, [N, K] K columns NAME_0..NAME_K-1, a ZipMap one per class. Rows that
    cannot be read go to --rejects (default OUTPUT.rejects.csv: line, reason) and the
    job goes on; it exits 3 when any were. A checkpoint beside the output lets --resume
    finish a killed job, each row written once.`,
  },
  worker: {
    multiple: true,
    options: {
      'public-key': { type: 'string' },
      r2: { type: 'string' },
      out: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      package: { type: 'string' },
      traffic: { type: 'string' },
      batch: { type: 'boolean' },
    },
    usage: `edgeinfer worker MODEL.onnx|BUNDLE.wasm [...] [--public-key NAME.pub] [--r2 BUCKET] [--package SPEC]
                [--traffic JSON] [--batch] [-o DIR] [--force]
    Write a Cloudflare Workers project serving the models (KServe v2 and /predict)
    into DIR (default: ./edgeinfer-worker), with a local API key in .dev.vars.
    Then: cd DIR && npm install && npx wrangler dev   (or: npx wrangler deploy)
    A MODEL.reference.json beside a model is bundled as its drift reference. Bundles
    are served under their manifest's name and version; with --public-key, the Worker
    refuses any not signed by that key. --r2 BUCKET keeps the models out of the script:
    they are uploaded to the R2 bucket (npm run upload-models, or upload-models:local
    for wrangler dev) and read from it on first use, refused unless their SHA-256 is the
    scaffolded file's. --package sets the project's edgeinfer dependency (a version
    range, a tarball, a directory: what npm install takes). Bundles of one name and several
    versions are served side by side; --traffic '{"NAME": {"production": "1", "candidate":
    "2", "canary": 10}}' sets which answers requests that name no version. --batch adds
    batch jobs (POST /v2/batch/jobs, scope batch): an R2 bucket for their tables and
    outputs, a Queue their chunks go through, and its dead-letter queue (npm run
    create-batch makes the three in the account; wrangler dev simulates them).`,
  },
  compare: {
    multiple: true,
    options: {
      csv: { type: 'string' },
      label: { type: 'string' },
      task: { type: 'string' },
      metric: { type: 'string' },
      'max-regression': { type: 'string' },
      min: { type: 'string', multiple: true },
      max: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'public-key': { type: 'string' },
    },
    usage: `edgeinfer compare BASE CANDIDATE --csv holdout.csv --label COLUMN [--task classification|regression]
                [--metric NAME] [--max-regression 0.01] [--min METRIC=VALUE]... [--max METRIC=VALUE]...
                [--json] [--public-key NAME.pub]
    Score two models or bundles on the same labelled CSV (the features by name, as batch
    reads them, and the true class or value in column COLUMN) and print their metrics side
    by side (classification: accuracy, macro F1, ROC AUC, F1 per class; regression: MAE,
    RMSE, R²), how often they agree and their latency. Exit 1 when the candidate's main
    metric (accuracy or MAE, or --metric) is worse than the base's by more than
    --max-regression of it (default 0.01, so 1%), or misses a --min or --max bound; rows
    a model refuses are left out and counted. --json prints the report and gates as JSON.`,
  },
  reference: {
    options: { out: { type: 'string', short: 'o' }, model: { type: 'string' }, categorical: { type: 'string' } },
    usage: `edgeinfer reference SAMPLE.csv|EXPORT.jsonl [-o reference.json] [--model MODEL.onnx] [--categorical a,b]
    Reference statistics of a training sample (CSV with a header row, or the labelled rows a
    served model exported: GET /v2/models/{name}/feedback/export) for drift
    detection: per-feature quantiles, histograms and category frequencies; with
    --model, named as the model names its features, and with its predictions.
    Load it with Model.load(model, { reference }), or embed it in a bundle with
    edgeinfer build --reference reference.json.`,
  },
};

const HELP = `edgeinfer: run ONNX models as WebAssembly, and ship them as signed bundles

Usage:
${Object.values(SPECS)
  .map((c) => `  ${c.usage.replace(/\n/g, '\n  ')}`)
  .join('\n')}

Options:
  -h, --help     this help (or a command's: edgeinfer build --help)
  --version      the version of edgeinfer

Exit codes: 0 success, 1 the model, bundle or input was refused (or compare's candidate
failed a gate), 2 bad usage, 3 a batch finished with rows rejected.`;

class UsageError extends Error {}

/** A refusal about a named file: exit 1 with the file and the problem. */
class FileError extends Error {
  constructor(file, e) {
    super(`${file}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  }
}

/** The command and its arguments, checked strictly against the command's options. */
function parse(argv) {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') return { help: HELP, code: command ? 0 : 2 };
  if (command === '--version') return { version: true };
  const spec = Object.hasOwn(SPECS, command) ? SPECS[command] : undefined;
  if (!spec) throw new UsageError(`unknown command '${command}'; see edgeinfer --help`);
  /** @type {{ values: Record<string, any>, positionals: string[] }} */
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(
      `${command}: ${e.message.replace(/\. To specify a positional argument.*$/s, '')}; see edgeinfer ${command} --help`,
    );
  }
  if (parsed.values.help) return { help: `Usage:\n  ${spec.usage.replace(/\n/g, '\n  ')}`, code: 0 };
  if (!spec.multiple && parsed.positionals.length > 1) {
    throw new UsageError(
      `${command} takes one file, got ${parsed.positionals.length}: ${parsed.positionals.join(', ')}`,
    );
  }
  return { command, positional: parsed.positionals, flags: parsed.values };
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
    if (t.dtype === 'map') {
      result[name] = { dtype: t.dtype, shape: t.shape, data: t.data };
      continue;
    }
    const flat = Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v));
    result[name] = { dtype: t.dtype, shape: t.shape, data: nest(flat, t.shape) };
  }
  return result;
}

async function readKey(path) {
  if (!path) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new FileError(path, e);
  }
}

/** Labelled rows exported by a served model (JSON Lines) as records of their features. */
function exportedRecords(text, path) {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((line, i) => {
      let row;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new UsageError(`${path}: line ${i + 1} is not JSON: ${e.message}`);
      }
      if (!row?.features || typeof row.features !== 'object')
        throw new UsageError(`${path}: line ${i + 1} has no features object (exported labelled rows have one)`);
      return row.features;
    });
}

/**
 * Reference statistics of the sample at `path` (CSV, or labelled rows exported as JSON
 * Lines), as `model` (a path, optional) sees it.
 */
async function referenceOf(path, model, flags) {
  const text = await readFile(path, 'utf8');
  const sample = /\.(jsonl|ndjson)$/i.test(path) ? exportedRecords(text, path) : text;
  const options = flags.categorical ? { categorical: flags.categorical.split(',').map((s) => s.trim()) } : {};
  return model ? (await loadModel(model)).buildReference(sample, options) : buildReference(sample, options);
}

/** `build --guard MODE [--guard-margin M]` as the `guard` option. */
function guardOf(flags) {
  if (flags.guard === undefined) {
    if (flags['guard-margin'] !== undefined) throw new UsageError('--guard-margin needs --guard');
    return undefined;
  }
  if (!['flag', 'clip', 'refuse'].includes(flags.guard))
    throw new UsageError(`--guard is '${flags.guard}', expected flag, clip or refuse`);
  if (!flags.reference) throw new UsageError('--guard checks features against a reference: give --reference too');
  const margin = flags['guard-margin'];
  if (margin !== undefined && !/^\d+(\.\d+)?$/.test(margin))
    throw new UsageError(`--guard-margin is a number of at least 0, got '${margin}'`);
  return { mode: flags.guard, ...(margin !== undefined && { margin: Number(margin) }) };
}

/** `build --reference`: a sample's statistics with `model`'s predictions, else the JSON as given. */
async function referenceText(path, model, flags) {
  if (/\.(csv|jsonl|ndjson)$/i.test(path)) return JSON.stringify(await referenceOf(path, model, flags));
  return readFile(path, 'utf8');
}

async function loadModel(path, publicKey) {
  if (!path) throw new UsageError('name the model file');
  try {
    return await Model.load(path, { publicKey: await readKey(publicKey) });
  } catch (e) {
    throw new FileError(path, e);
  }
}

/**
 * Splits CSV text into rows of fields by the rules `reference` applies (src/monitor/csv.rs):
 * RFC 4180 quoting, CRLF or LF line ends, a leading byte-order mark dropped, blank lines
 * skipped, and a quoted field never closed refused, naming the line that opened it.
 */
export function parseCsv(text) {
  const rows = [];
  let row = [],
    field = '',
    quoted = false,
    line = 1,
    opened = 1;
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      opened = line;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') continue;
    else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      line++;
    } else field += c;
  }
  if (quoted) throw new UsageError(`CSV: the quoted field opened on line ${opened} is never closed`);
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** A CSV's rows as feeds: the header names features or inputs, as /predict instances do. */
async function csvFeeds(model, file) {
  const [header, ...rows] = parseCsv(await readFile(file, 'utf8'));
  if (!header || !rows.length) throw new UsageError(`${file}: expected a header row and at least one data row`);
  rows.forEach((r, i) => {
    if (r.length !== header.length)
      throw new UsageError(`${file}: row ${i + 2} has ${r.length} fields, the header ${header.length}`);
  });
  const entry = { features: model.metadata.feature_names ? null : header, name: basename(file) };
  const instances = rows.map((r) => Object.fromEntries(header.map((h, j) => [h.trim(), r[j]])));
  let feeds;
  try {
    feeds = parsePredictRequest({ instances }, instanceLayout(entry, model), {
      maxBatchRows: Infinity,
      maxTensorElements: Infinity,
    }).feeds;
  } catch (e) {
    throw new UsageError(`${file}: ${e.message}`);
  }
  for (const [name, feed] of Object.entries(feeds)) {
    const dtype = model.inputs.find((i) => i.name === name)?.dtype;
    feed.data = feed.data.map((v) => (dtype === 'string' ? String(v) : v === '' ? NaN : Number(v)));
  }
  return feeds;
}

const dims = (shape) => `[${shape.join(', ')}]`;

const COMMANDS = {
  async inspect([path], flags) {
    const model = await loadModel(path, flags['public-key']);
    const size = (await stat(path)).size;
    console.log(
      `${path}: ${(size / 1e6).toFixed(2)} MB${model.manifest ? `, bundle ${model.manifest.name} ${model.manifest.version}` : ''}`,
    );
    console.log('inputs:');
    for (const i of model.inputs) console.log(`  ${i.name}: ${i.dtype} ${dims(i.shape)}`);
    console.log('outputs:');
    for (const o of model.outputs) console.log(`  ${o.name}: ${o.dtype} ${dims(o.shape)}`);
    const meta = Object.entries(model.metadata);
    if (meta.length) {
      console.log('metadata:');
      for (const [k, v] of meta) console.log(`  ${k}: ${v}`);
    }
    if (model.manifest) {
      const { model: payload, runtime, signer, created, features, labels, snapshot } = model.manifest;
      console.log('manifest:');
      console.log(`  created: ${created}`);
      console.log(`  model: ${payload.encoding}, ${payload.size} bytes, sha256 ${payload.sha256}`);
      console.log(`  runtime: edgeinfer ${runtime.version}`);
      console.log(`  snapshot: ${snapshot ? `${snapshot.size} bytes, sha256 ${snapshot.sha256}` : 'none'}`);
      console.log(`  signed: ${signer ? `${signer.algorithm}, key ${signer.key_id}` : 'no'}`);
      if (features) console.log(`  features: ${features.join(', ')}`);
      if (labels) console.log(`  labels: ${labels.join(', ')}`);
    }
    return 0;
  },

  async predict([path], flags) {
    const model = await loadModel(path, flags['public-key']);
    let feeds;
    if (flags.csv) {
      feeds = await csvFeeds(model, flags.csv);
    } else {
      if (!flags.input) throw new UsageError('predict needs --input JSON (or --input @file.json) or --csv FILE');
      const text = flags.input.startsWith('@') ? await readFile(flags.input.slice(1), 'utf8') : flags.input;
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new UsageError(`--input is not JSON: ${e.message}`);
      }
      feeds = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, toFeed(k, v)]));
    }
    const started = performance.now();
    const outputs = await model.predict(feeds);
    const ms = performance.now() - started;
    const lines = Object.entries(toJson(outputs)).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    console.log(`{\n${lines.join(',\n')}\n}`);
    console.error(`predicted in ${ms.toFixed(2)} ms`);
    return 0;
  },

  async build([path], flags) {
    if (!path) throw new UsageError('build needs MODEL.onnx');
    if (!flags.name || !flags.version) throw new UsageError('build needs --name NAME and --version V');
    if (flags.simd && !Object.hasOwn(WASM_FILES, flags.simd))
      throw new UsageError(`--simd is ${Object.keys(WASM_FILES).join(' or ')}, got '${flags.simd}'`);
    if (flags.threads && flags.simd)
      throw new UsageError('--threads embeds the threads build, which has relaxed SIMD: give it without --simd');
    const out = flags.out ?? 'dist';
    const guard = guardOf(flags);
    let made;
    try {
      made = await buildBundle({
        model: path,
        name: flags.name,
        version: flags.version,
        out,
        signingKey: flags.sign,
        features: flags.features?.split(',').map((f) => f.trim()),
        reference: flags.reference && (await referenceText(flags.reference, path, flags)),
        guard,
        snapshot: !flags['no-snapshot'],
        simd: flags.simd,
        threads: flags.threads,
      });
    } catch (e) {
      throw new FileError(path, e);
    }
    const { manifest } = made;
    console.log(`wrote ${out}/: ${made.files.join(', ')}`);
    const snapshot = manifest.snapshot ? `, loaded snapshot ${(manifest.snapshot.size / 1e6).toFixed(1)} MB` : '';
    console.log(
      `  ${manifest.name} ${manifest.version}: model as ${manifest.model.encoding}${snapshot}, sha256 ${manifest.model.sha256.slice(0, 16)}…, ${manifest.signer ? `signed by key ${manifest.signer.key_id}` : 'unsigned'}`,
    );
    return 0;
  },

  async keygen(_, flags) {
    if (!flags.out) throw new UsageError('keygen needs -o NAME (writes NAME.key and NAME.pub)');
    const algorithm = flags.algorithm ?? 'ed25519';
    if (!['ed25519', 'p256'].includes(algorithm)) {
      throw new UsageError(`--algorithm is '${algorithm}'; it is ed25519 (bundles) or p256 (model signing)`);
    }
    const [privatePem, publicPem] =
      algorithm === 'p256' ? p256KeyPair() : await api.bundleTools.keyPair(randomBytes(32));
    // The private key is readable by its owner only.
    await writeFile(`${flags.out}.key`, privatePem, { mode: 0o600, flag: flags.force ? 'w' : 'wx' }).catch((e) => {
      throw new FileError(
        `${flags.out}.key`,
        e.code === 'EEXIST' ? new Error('exists (use --force to replace it)') : e,
      );
    });
    await writeFile(`${flags.out}.pub`, publicPem, { flag: flags.force ? 'w' : 'wx' });
    console.log(`wrote ${flags.out}.key (private: keep it secret) and ${flags.out}.pub`);
    return 0;
  },

  async sign([path], flags) {
    if (!path) throw new UsageError('sign needs MODEL.onnx');
    if (!flags.key)
      throw new UsageError('sign needs --key NAME.key (an EC private key: edgeinfer keygen --algorithm p256)');
    const out = flags.signature ?? `${path.replace(/\.onnx$/, '')}.sig`;
    const signature = signModel(await readFile(path), path, await readFile(flags.key, 'utf8'), flags.key);
    await writeFile(out, signature);
    console.log(`wrote ${out}: ${path} signed by ${flags.key} (OpenSSF model signing)`);
    return 0;
  },

  async verify([path], flags) {
    if (!path) throw new UsageError('verify needs BUNDLE.wasm, or MODEL.onnx --signature FILE');
    if (flags.signature) {
      if (!flags['public-key']) throw new UsageError('verify --signature needs --public-key NAME.pub');
      let subject;
      try {
        const [model, signature, key] = await Promise.all([
          readFile(path),
          readFile(flags.signature, 'utf8'),
          readFile(flags['public-key'], 'utf8'),
        ]);
        subject = verifyModel(model, signature, key, flags['public-key']);
      } catch (e) {
        throw new FileError(path, e);
      }
      console.log(
        `${path}: signed by ${flags['public-key']} (model-signing subject ${subject.name}, sha256 ${subject.sha256})`,
      );
      return 0;
    }
    let manifest;
    try {
      manifest = await api.bundleTools.verify(await readFile(path), { publicKey: await readKey(flags['public-key']) });
    } catch (e) {
      throw new FileError(path, e);
    }
    const how = flags['public-key']
      ? `signature by ${flags['public-key']} (key ${manifest.signer?.key_id})`
      : 'digests only (no --public-key: the signature was not checked)';
    console.log(`${path}: OK, ${manifest.name} ${manifest.version}, ${how}`);
    console.log(JSON.stringify(manifest, null, 2));
    return 0;
  },

  async reference([sample], flags) {
    if (!sample) throw new UsageError('reference needs a SAMPLE.csv');
    const reference = await referenceOf(sample, flags.model, flags);
    const text = `${JSON.stringify(reference, null, 2)}\n`;
    if (flags.out) await writeFile(flags.out, text);
    else process.stdout.write(text);
    const kinds = reference.features.map((f) => f.type);
    console.error(
      `reference of ${reference.rows} rows: ${kinds.filter((k) => k === 'numeric').length} numeric and ${kinds.filter((k) => k === 'categorical').length} categorical features${reference.prediction ? ', and the predictions' : ''}${flags.out ? ` in ${flags.out}` : ''}`,
    );
    return 0;
  },

  async compare(paths, flags) {
    if (paths.length !== 2) throw new UsageError(`compare takes BASE and CANDIDATE, got ${paths.length} files`);
    if (!flags.csv || !flags.label) throw new UsageError('compare needs --csv FILE and --label COLUMN');
    if (flags.task !== undefined && !['classification', 'regression'].includes(flags.task))
      throw new UsageError(`--task is classification or regression, got '${flags.task}'`);
    const share = flags['max-regression'];
    if (share !== undefined && !/^\d+(\.\d+)?$/.test(share))
      throw new UsageError(`--max-regression is a number of at least 0, got '${share}'`);
    const bounds = (name) =>
      (flags[name] ?? []).map((g) => {
        const m = /^([a-z0-9]+)=(-?\d+(\.\d+)?)$/.exec(g);
        if (!m) throw new UsageError(`--${name} is METRIC=NUMBER, got '${g}'`);
        return [m[1], Number(m[2])];
      });
    const [header, ...rows] = parseCsv(
      await readFile(flags.csv, 'utf8').catch((e) => Promise.reject(new FileError(flags.csv, e))),
    );
    if (!header) throw new UsageError(`${flags.csv}: expected a header row`);
    const [base, candidate] = [
      await loadModel(paths[0], flags['public-key']),
      await loadModel(paths[1], flags['public-key']),
    ];
    let report, gates;
    try {
      report = await compareModels({
        base,
        candidate,
        names: paths.map((p) => basename(p)),
        header: header.map((h) => h.trim()),
        rows,
        label: flags.label,
        task: flags.task,
      });
      gates = checkGates(report, {
        metric: flags.metric,
        maxRegression: share === undefined ? undefined : Number(share),
        min: bounds('min'),
        max: bounds('max'),
      });
    } catch (e) {
      if (e instanceof CompareError) throw new UsageError(`${flags.csv}: ${e.message}`);
      throw e;
    }
    console.log(flags.json ? JSON.stringify({ ...report, gates }, null, 2) : formatReport(report, gates, flags.csv));
    return gates.every((g) => g.passed) ? 0 : 1;
  },

  async batch([path], flags) {
    if (!path) throw new UsageError('batch needs MODEL.onnx or BUNDLE.wasm');
    if (!flags.input || !flags.output) throw new UsageError('batch needs --input FILE and --output FILE');
    const count = (name, fallback) => {
      if (flags[name] === undefined) return fallback;
      const n = Number(flags[name]);
      if (!Number.isSafeInteger(n) || n < 1)
        throw new UsageError(`--${name} is a whole number of at least 1, got '${flags[name]}'`);
      return n;
    };
    const list = (value) =>
      value
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    const loadOptions = { publicKey: await readKey(flags['public-key']), monitoring: false };
    const started = performance.now();
    let done;
    try {
      done = await runBatch({
        model: path,
        loadOptions,
        load: () => Model.load(path, loadOptions).catch((e) => Promise.reject(new FileError(path, e))),
        input: flags.input,
        output: flags.output,
        format: flags.format,
        batchSize: count('batch-size', 4096),
        threads: count('threads', defaultThreads()),
        keep: list(flags.keep),
        features: list(flags.features),
        rejects: flags.rejects,
        resume: flags.resume,
        progress: !flags.quiet && process.stderr.isTTY,
      });
    } catch (e) {
      if (e instanceof TableError && e.exit === 2) throw new UsageError(e.message);
      throw e;
    }
    const seconds = (performance.now() - started) / 1000;
    if (!flags.quiet)
      console.error(
        `scored ${done.rows} rows into ${flags.output} in ${seconds.toFixed(2)} s (${Math.round(done.rows / seconds)} rows/s)` +
          (done.rejected ? `; ${done.rejected} rejected, listed in ${done.rejects}` : ''),
      );
    return done.rejected ? 3 : 0;
  },

  async worker(models, flags) {
    if (!models.length) throw new UsageError('worker needs at least one MODEL.onnx or BUNDLE.wasm');
    const out = flags.out ?? 'edgeinfer-worker';
    let made;
    try {
      made = await scaffoldWorker({
        models,
        out,
        force: flags.force,
        packageSpec: flags.package,
        publicKey: await readKey(flags['public-key']),
        r2: flags.r2,
        traffic: flags.traffic,
        batch: flags.batch,
      });
    } catch (e) {
      console.error(`edgeinfer: ${e.message}`);
      return 1;
    }
    console.log(`wrote ${out}: a Worker serving ${made.models.join(', ')}`);
    console.log(`  cd ${out} && npm install${flags.r2 ? ' && npm run upload-models:local' : ''} && npx wrangler dev`);
    console.log(`  local API key (in ${out}/.dev.vars): ${made.devKey}`);
    console.log(`  curl -H "Authorization: Bearer ${made.devKey}" http://localhost:8787/v2/models/${made.models[0]}`);
    return 0;
  },
};

async function main(argv) {
  const { help, code, version, command, positional, flags } = parse(argv);
  if (help) {
    console.log(help);
    return code;
  }
  if (version) {
    console.log(JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version);
    return 0;
  }
  return COMMANDS[command](positional, flags);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(
      `edgeinfer: ${e instanceof UsageError || e instanceof FileError ? '' : e.code ? `${e.code}: ` : ''}${e.message}`,
    );
    process.exitCode = e instanceof UsageError ? 2 : 1;
  },
);
