// One cold start, in a fresh process: time from importing the runtime to the first
// prediction's result. Prints { importMs, loadMs, firstPredictMs, totalMs } as JSON. With
// --started, the runtime first loads and runs another model (examples/iris.onnx), and
// `startedMs` is then the load of this one to its first prediction.
//   node bench/cold.mjs RUNTIME MODEL.onnx FEEDS [--started]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIMES } from './runtimes.mjs';
import { feeds as feedsOf } from './feeds.mjs';
import { root } from './paths.mjs';

const [runtime, modelPath, feedsKey] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(modelPath));
const feeds = feedsOf(feedsKey);
const t0 = performance.now();
const rt = await RUNTIMES[runtime]();
if (process.argv.includes('--started')) {
  const iris = await rt.load(new Uint8Array(readFileSync(join(root, 'examples/iris.onnx'))));
  await rt.predict(iris, {
    features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4], dtype: 'float32' },
  });
  const t1 = performance.now();
  await rt.predict(await rt.load(bytes), feeds);
  console.log(JSON.stringify({ startedMs: performance.now() - t1 }));
} else {
  const t1 = performance.now();
  const session = await rt.load(bytes);
  const t2 = performance.now();
  await rt.predict(session, feeds);
  const t3 = performance.now();
  console.log(JSON.stringify({ importMs: t1 - t0, loadMs: t2 - t1, firstPredictMs: t3 - t2, totalMs: t3 - t0 }));
}
