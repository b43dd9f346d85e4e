// `edgeinfer worker`: writes a Cloudflare Workers project that serves the given models, from
// the template in the package's worker/ directory.
import { createHash, randomBytes } from 'node:crypto';
import { access, copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Model } from './node.js';
import { Traffic } from './server/traffic.js';

const TEMPLATE = new URL('../worker/', import.meta.url);

/** A model file's name as a route segment and JS identifier: letters, digits and _. */
export function modelName(path) {
  const name = basename(path)
    .replace(/\.(onnx|wasm)$/i, '')
    .replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(name) ? name : `m_${name}`;
}

const isBundle = (path) => /\.wasm$/i.test(path);

/** models.js's last lines: the deployed traffic policies. */
const trafficModule = (traffic) => `// Which version answers requests that name none, per model (default: the latest):
// { name: { production: '1', candidate: '2', canary: 10, shadow: 25, sticky: 'header:x-user-id' } }.
// With a KV namespace bound as TRAFFIC (wrangler.toml), PUT /v2/models/{name}/traffic changes
// them at run time.
export const TRAFFIC = ${JSON.stringify(traffic, null, 2)};
`;

/** `traffic` (JSON text or an object) checked against the models scaffolded, as the Worker will. */
function trafficOf(traffic, entries) {
  if (traffic === undefined) return {};
  let policies = traffic;
  if (typeof traffic === 'string')
    try {
      policies = JSON.parse(traffic);
    } catch (e) {
      throw new Error(`--traffic is not JSON: ${e.message}`, { cause: e });
    }
  // The server's own check, so that a policy the Worker would refuse is refused here.
  new Traffic(policies, entries);
  return policies;
}

/**
 * wrangler.toml's batch bindings: the bucket, the queue and its consumer (one chunk per
 * invocation, so that each has its own CPU and memory), and the dead-letter queue, which the
 * same Worker consumes to record chunks that failed every retry.
 */
const batchBindings = (name) => `
# Batch jobs (POST /v2/batch/jobs, scope batch): tables and outputs in this bucket, one
# message per chunk through the queue, chunks that fail every retry to the dead-letter
# queue. Make the three in the account once with \`npm run create-batch\`; wrangler dev
# simulates them. Put a table in the bucket with
# \`npx wrangler r2 object put ${name}/KEY.csv --file KEY.csv [--local]\`.
[[r2_buckets]]
binding = "BATCH"
bucket_name = "${name}"

[[queues.producers]]
binding = "BATCH_CHUNKS"
queue = "${name}"

[[queues.consumers]]
queue = "${name}"
max_batch_size = 1
max_batch_timeout = 1
max_retries = 3
dead_letter_queue = "${name}-failed"

[[queues.consumers]]
queue = "${name}-failed"
max_batch_size = 1
max_batch_timeout = 1
`;

/**
 * Writes the project into `out` (which must be empty unless `force`). Models are ONNX files
 * or bundles (`edgeinfer build`'s NAME.wasm, served under their manifest's name and version,
 * and checked against `publicKey` in the Worker as here, when one is given). Each model is
 * loaded first, so a file that would fail in the Worker fails here, with its name. A
 * `MODEL.reference.json` beside an ONNX model (from `edgeinfer reference`) is bundled with it
 * and loaded as its drift reference, after the same check; a bundle carries its own. With `r2`
 * (a bucket's name) the model files are not imported by the script but uploaded to the bucket
 * (`npm run upload-models`) and read from it on first use, pinned by their SHA-256. With
 * `batch`, wrangler.toml also binds what batch jobs need (js/server/batch-jobs.js).
 * @returns {Promise<{ out: string, models: string[], devKey: string }>}
 */
export async function scaffoldWorker({
  models,
  out,
  force = false,
  packageSpec,
  publicKey,
  r2,
  traffic,
  batch = false,
}) {
  if (r2 !== undefined && !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(r2))
    throw new Error(`'${r2}' is not an R2 bucket name (3 to 63 lowercase letters, digits and hyphens)`);
  if (!models.length) throw new Error('name at least one model file');
  const existing = await readdir(out).catch(() => []);
  if (existing.length && !force) throw new Error(`${out} is not empty (use --force to write into it)`);
  const entries = [];
  for (const path of models) {
    const bundle = isBundle(path);
    const referencePath = bundle ? null : path.replace(/\.onnx$/i, '') + '.reference.json';
    const reference =
      referencePath &&
      (await access(referencePath).then(
        () => readFile(referencePath, 'utf8'),
        () => null,
      ));
    const options = { ...(reference ? { reference } : {}), ...(bundle && publicKey ? { publicKey } : {}) };
    const model = await Model.load(path, options).catch((e) => {
      throw new Error(`${path}${reference ? ` with ${referencePath}` : ''}: ${e.code ?? ''} ${e.message}`.trim());
    });
    const manifest = model.manifest;
    model.dispose();
    const name = modelName(manifest?.name ?? path);
    const version = manifest?.version ?? '1';
    if (entries.some((e) => e.name === name && e.version === version))
      throw new Error(`two models would be named '${name}', version ${version}`);
    // Its files' names and identifier: the name, and the version where several share it.
    const id = entries.some((e) => e.name === name) ? `${name}_v${version.replace(/[^A-Za-z0-9_]/g, '_')}` : name;
    if (entries.some((e) => e.id === id)) throw new Error(`two models would have the files of '${id}'`);
    entries.push({
      name,
      id,
      path,
      bundle,
      sha256: createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
      version,
      referencePath: reference ? referencePath : null,
    });
  }
  const policies = trafficOf(traffic, entries);
  await mkdir(join(out, 'src'), { recursive: true });
  await mkdir(join(out, 'models'), { recursive: true });
  // A bundle is data here, not code: `.bundle`, so that wrangler's rule for compiled wasm
  // (the runtime's) leaves it alone.
  const file = (e) => `${e.id}.${e.bundle ? 'bundle' : 'onnx'}`;
  for (const e of entries) {
    await copyFile(e.path, join(out, 'models', file(e)));
    if (e.referencePath) await copyFile(e.referencePath, join(out, 'models', `${e.id}.reference.json`));
  }
  const worker = `edgeinfer-${entries[0].name.toLowerCase().replace(/_/g, '-')}`;
  const jobs = `${worker}-batch`.slice(0, 56);
  let toml = (await readFile(new URL('wrangler.toml', TEMPLATE), 'utf8')).replace(/^name = .*$/m, `name = "${worker}"`);
  if (batch) toml = toml.replace(/^\[vars\]\n/m, `$&BATCH_DEAD_LETTER_QUEUE = "${jobs}-failed"\n`);
  const binding = r2
    ? `\n# The models, read on first use (upload them with \`npm run upload-models\`).\n[[r2_buckets]]\nbinding = "MODELS"\nbucket_name = "${r2}"\n`
    : '';
  await writeFile(join(out, 'wrangler.toml'), toml + binding + (batch ? batchBindings(jobs) : ''));
  await copyFile(new URL('src/index.js', TEMPLATE), join(out, 'src/index.js'));
  const imports = entries
    .map((e) =>
      [
        ...(r2 ? [] : [`import ${e.id} from '../models/${file(e)}';`]),
        ...(e.referencePath ? [`import ${e.id}_reference from '../models/${e.id}.reference.json';`] : []),
      ].join('\n'),
    )
    .join('\n');
  const list = entries
    .map((e) => {
      const extra = [
        e.referencePath && `reference: ${e.id}_reference`,
        e.bundle && publicKey && 'publicKey: PUBLIC_KEY',
      ].filter(Boolean);
      const source = r2 ? `r2: { key: '${file(e)}', sha256: '${e.sha256}' }` : `bytes: ${e.id}`;
      return `  { name: '${e.name}', version: ${JSON.stringify(e.version)}, ${source}${extra.map((x) => `, ${x}`).join('')} },`;
    })
    .join('\n');
  // A public key is no secret: it can sit in the source, and the bundles are checked against it.
  const key =
    publicKey && entries.some((e) => e.bundle)
      ? `\n// Bundles must be signed by this key.\nconst PUBLIC_KEY = ${JSON.stringify(publicKey)};\n`
      : '';
  await writeFile(
    join(out, 'src/models.js'),
    `// The models this Worker serves. \`edgeinfer worker MODEL.onnx|BUNDLE.wasm ...\` writes this file.\n${imports}\n${key}\nexport const MODELS = [\n${list}\n];\n\n${trafficModule(policies)}`,
  );
  const own = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  const pkg = {
    name: `edgeinfer-${entries[0].name.toLowerCase().replace(/_/g, '-')}`,
    private: true,
    type: 'module',
    scripts: {
      dev: 'wrangler dev',
      deploy: 'wrangler deploy',
      ...(batch && {
        'create-batch': `wrangler r2 bucket create ${jobs} && wrangler queues create ${jobs} && wrangler queues create ${jobs}-failed`,
      }),
      ...(r2 && {
        // One put per model, to the account's bucket, or (:local) to wrangler dev's.
        'upload-models': entries
          .map((e) => `wrangler r2 object put ${r2}/${file(e)} --file models/${file(e)} --remote`)
          .join(' && '),
        'upload-models:local': entries
          .map((e) => `wrangler r2 object put ${r2}/${file(e)} --file models/${file(e)} --local`)
          .join(' && '),
      }),
    },
    dependencies: { edgeinfer: packageSpec ?? `^${own.version}` },
    devDependencies: { wrangler: own.devDependencies?.wrangler ?? '^4' },
  };
  await writeFile(join(out, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const devKey = randomBytes(24).toString('base64url');
  // Single quotes: dotenv takes the JSON inside literally.
  await writeFile(
    join(out, '.dev.vars'),
    `API_KEYS='${JSON.stringify([{ name: 'dev', key: devKey, scopes: ['predict', 'metrics', ...(batch ? ['batch'] : [])] }])}'\n`,
  );
  await writeFile(join(out, '.gitignore'), 'node_modules/\n.wrangler/\n.dev.vars\n');
  return { out, models: [...new Set(entries.map((e) => e.name))], devKey };
}
