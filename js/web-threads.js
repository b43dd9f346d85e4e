// Threads in a browser page: the team's threads are module Workers, each running
// web-thread.js. Workers share the memory only where the page is cross-origin isolated (COOP
// and COEP headers); elsewhere there is no SharedArrayBuffer, and one thread. Shared by the
// package's browser API and by bundles' generated modules (bundle-node.js).

const isolated = globalThis.crossOriginIsolated === true && typeof Worker === 'function';

/** The `threads` of a runtime's platform (core.js's `createApi`), where a page may have them. */
export const webThreads = isolated && {
  cores: () => navigator.hardwareConcurrency || 1,
  glue: () => import('../dist/edgeinfer_threads.js'),
  /**
   * Starts a team thread on a module Worker (web-thread.js); `lost` is called if it fails
   * once it runs (before, it was never counted as running, and nothing waits for it).
   */
  spawn(workerData, lost) {
    const worker = new Worker(new URL('./web-thread.js', import.meta.url), { type: 'module' });
    let running = false;
    worker.addEventListener('message', () => (running = true), { once: true });
    worker.addEventListener('error', () => running && lost());
    worker.postMessage(workerData);
  },
};
