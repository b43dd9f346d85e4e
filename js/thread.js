// A team thread of the threads build, on a Node Worker (node-api.js): it instantiates the
// module the main thread compiled, on the memory they share, says it runs, then takes parts
// of operators for good (src/threads.rs).
import { parentPort, workerData } from 'node:worker_threads';
import { initSync, runThread } from '../dist/edgeinfer_threads.js';

const { module, memory } = workerData;
initSync({ module, memory });
parentPort.postMessage('running');
runThread();
