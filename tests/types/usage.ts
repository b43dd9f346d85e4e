// Compiled with `tsc --noEmit`: the public types accept what the README shows and refuse
// what they must (each @ts-expect-error fails the build if the line ever type-checks).
import {
  Model,
  init,
  buildReference,
  predictionId,
  EdgeInferError,
  type Outputs,
  type TensorInfo,
  type ErrorCode,
  type Reference,
  type ModelStats,
  type DriftReport,
  type PredictionLogLine,
  type TensorJSON,
} from 'edgeinfer';
import { createHandler, readFromR2 } from 'edgeinfer/server';
// A Worker's entry point with the simd128 build: the same API.
import { Model as Simd128Model } from 'edgeinfer/simd128';

async function main(): Promise<void> {
  const started: 'relaxed-simd' | 'simd128' = (await init({ simd: 'auto' })).simd;
  void started;
  // @ts-expect-error: the builds are named, not numbered
  await init({ simd: 256 });
  const pool: number = (await init({ threads: 'auto' })).threads;
  // @ts-expect-error: a number of threads, or 'auto'
  await init({ threads: 'all' });
  const single: number = (await Model.load('model.onnx', { threads: 1 })).threads;
  void [pool, single];
  const bitExact: Model = await Simd128Model.load(new Uint8Array(0));
  void bitExact;
  const model: Model = await Model.load('model.onnx', { inputShapes: { x: [1, 32] }, maxTensorBytes: 1 << 20 });
  const infos: readonly TensorInfo[] = model.inputs;
  const first: string | number | undefined = infos[0]?.shape[0];
  const out: Outputs = await model.predict({ x: { data: new Float32Array(32), shape: [1, 32] } });
  await model.predict({ ids: { data: [1n, 2n], shape: [1, 2], dtype: 'int64' } });
  await model.predict({ x: { data: new Float32Array(32), dims: [1, 32], type: 'float32' } });
  for await (const batch of model.predictBatches([{ a: 1 }, [1, 2]], { batchSize: 2 })) {
    const first: number | undefined = batch.indices[0];
    const why: string | undefined = batch.rejected[0]?.reason;
    if (batch.outputs) console.log(first, why, batch.outputs.y?.shape);
  }
  const y = out['y'];
  if (y?.dtype === 'int64') {
    const ints: BigInt64Array = y.data;
    void ints;
  }
  if (y?.dtype === 'string') {
    const strings: string[] = y.data;
    void strings;
  }
  if (y?.dtype === 'map') {
    const rows: Array<Record<string, number>> = y.data;
    void rows;
  }
  try {
    await Model.load(new Uint8Array(0));
  } catch (e) {
    if (e instanceof EdgeInferError) {
      const code: ErrorCode = e.code;
      void code;
    }
    // Code that wraps its own failures the same way.
    const own = new EdgeInferError('E_INPUT_SHAPE', 'x has 3 columns', { cause: e });
    const name: 'EdgeInferError' = own.name;
    void name;
    // @ts-expect-error codes are the package's
    void new EdgeInferError('E_OOPS', 'oops');
  }
  // Outputs as JSON: int64 values as numbers or decimal strings.
  const json: TensorJSON | undefined = y?.toJSON();
  const text0: string = JSON.stringify(out);
  void [json, text0];
  // Monitoring: ids on predictions, feedback, stats, drift, logs, references.
  const reference: Reference = await buildReference('a,b\n1,x\n', { categorical: ['b'] });
  const watched = await Model.load('model.onnx', {
    reference,
    monitoring: {
      name: 'm',
      version: '2',
      task: 'classification',
      window: 500,
      log: {
        sink: (line: string) => {
          const l = JSON.parse(line) as PredictionLogLine;
          void l.latency_ms;
        },
        sampleRate: 0.1,
        redact: ['ssn'],
      },
    },
  });
  const prediction: Outputs = await watched.predict({ x: { data: new Float32Array(32), shape: [1, 32] } });
  const id: string | undefined = predictionId(prediction);
  if (id) watched.feedback(id, 1);
  watched.feedback('x-1', [1n, null, 'cat', true]);
  watched.feedback('x-1', new Int32Array([0, 2]));
  watched.feedback('x-1', { length: 2, 0: 'cat', 1: null });
  const stats: ModelStats = watched.stats();
  const p99: number | null = stats.latencyMs.p99;
  const accuracy: number | undefined = stats.quality?.accuracy;
  const drift: DriftReport = watched.drift();
  const drifting: boolean = drift.status === 'drift' || drift.features.some((f) => f.status === 'drift');
  const text: string = watched.prometheus({ model: 'm', version: '2' });
  const lines: string[] = watched.takeLogs();
  watched.configureLogs({ sink: 'console', includeInputs: true });
  watched.configureLogs(false);
  const own: Reference = await watched.buildReference([{ a: 1 }]);
  await Model.load('model.onnx', { monitoring: false });
  void [p99, accuracy, drifting, text, lines, own];
  createHandler({
    models: [{ name: 'm', load: (options) => Model.load('m.onnx', { ...options, reference }) }],
    settings: { LOG_PREDICTIONS: 'queue', LOG_REDACT: 'ssn' },
  });
  createHandler({
    models: [
      { name: 'r', load: async (o, env) => Model.load(await readFromR2(env, { key: 'r.onnx', sha256: 'ab' }), o) },
    ],
    loading: 'first-request',
  });
  createHandler({
    models: [{ name: 'm', version: '2', load: (o) => Model.load('m.onnx', o) }],
    traffic: { m: { production: '2', candidate: '3', canary: 10, shadow: 5, sticky: 'header:x-user-id' } },
    settings: { TRAFFIC_KV: 'POLICIES', TRAFFIC_REFRESH_SECONDS: 5 },
  });
  // @ts-expect-error sticky is 'principal' or 'header:NAME'
  createHandler({ models: [], traffic: { m: { sticky: 'cookie' } } });
  // @ts-expect-error models load on the first request or at start-up
  createHandler({ models: [], loading: 'lazy' });
  // @ts-expect-error a task is classification or regression
  await Model.load('m.onnx', { monitoring: { task: 'ranking' } });
  // @ts-expect-error the log sink is 'console' or a function
  await Model.load('m.onnx', { monitoring: { log: { sink: 'stdout' } } });
  model.dispose();
  const disposed: boolean = model.disposed;
  void first;
  void disposed;
  // @ts-expect-error an unknown dtype
  await model.predict({ x: { data: [1], shape: [1], dtype: 'float' } });
  // @ts-expect-error 'map' is an output-only type
  await model.predict({ x: { data: [1], shape: [1], dtype: 'map' } });
  // @ts-expect-error options are typed
  await Model.load('m.onnx', { inputShape: {} });
  // @ts-expect-error a number is not a model source
  await Model.load(42);
  // @ts-expect-error bundles load through their generated modules, not the Model class
  void Model.fromBundleModule;
}
void main;
