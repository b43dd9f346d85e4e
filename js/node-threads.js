// Threads in Node: the team's threads are worker_threads Workers, each running thread.js.
// Shared by the package's Node API and by bundles' generated modules (bundle-node.js).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** The `threads` of a runtime's platform (core.js's `createApi`). */
export const nodeThreads = {
  cores: availableParallelism,
  glue: () => import('../dist/edgeinfer_threads.js'),
  /**
   * Starts a team thread on a Worker (thread.js). The Worker is unref'd, so that an idle team
   * never keeps the process alive; `lost` is called if it dies once it runs (before, it
   * was never counted as running, and nothing waits for it).
   */
  spawn(workerData, lost) {
    // No Node options of the main thread's (`--input-type` breaks a Worker from a file);
    // V8's flags, relaxed SIMD's among them, are the process's anyway.
    const worker = new Worker(new URL('./thread.js', import.meta.url), { workerData, execArgv: [] });
    worker.unref();
    let running = false;
    worker.once('message', () => (running = true));
    worker.on('error', () => running && lost());
    worker.once('exit', () => running && lost());
  },
};
