// A worker thread of `edgeinfer batch`: loads its own copy of the model, reports its schema
// (the main thread plans the job from it, loading none), then scores the chunks it is sent
// under the job it is given (see batch.js).
import { parentPort, workerData } from 'node:worker_threads';
import { Model } from './node.js';
import { scoreChunk } from './chunks.js';

let model;
try {
  // One thread each: the job's workers are its threads already.
  model = await Model.load(workerData.model, { ...workerData.loadOptions, threads: 1 });
  parentPort.postMessage({ schema: { inputs: model.inputs, metadata: model.metadata } });
} catch (e) {
  parentPort.postMessage({ error: { message: e.message, code: e.code } });
}
let job;
parentPort.on('message', async (m) => {
  if (m.job) {
    job = m.job;
    return;
  }
  try {
    parentPort.postMessage({ seq: m.seq, ...(await scoreChunk(model, job, m.chunk, m.line)) });
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, error: { message: e.message, code: e.code } });
  }
});
