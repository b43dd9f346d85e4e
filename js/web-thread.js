// A team thread of the threads build, on a browser's module Worker (browser.js): it
// instantiates the module the page compiled, on the memory they share, says it runs, then
// takes parts of operators for good (src/threads.rs).
import { initSync, runThread } from '../dist/edgeinfer_threads.js';

self.addEventListener(
  'message',
  ({ data: { module, memory } }) => {
    initSync({ module, memory });
    self.postMessage('running');
    runThread();
  },
  { once: true },
);
