// One cold start, in a fresh process: time from importing the runtime to the first
// prediction's result. Prints { importMs, loadMs, firstPredictMs, totalMs } as JSON.
//   node bench/cold.mjs RUNTIME MODEL.onnx FEEDS_MODULE_KEY
import { readFileSync } from 'node:fs';
import { RUNTIMES } from './runtimes.mjs';
import { FEEDS } from './feeds.mjs';

const [runtime, modelPath, feedsKey] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(modelPath));
const feeds = FEEDS[feedsKey]();
const t0 = performance.now();
const rt = await RUNTIMES[runtime]();
const t1 = performance.now();
const session = await rt.load(bytes);
const t2 = performance.now();
await rt.predict(session, feeds);
const t3 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, loadMs: t2 - t1, firstPredictMs: t3 - t2, totalMs: t3 - t0 }));
