// The two runtimes the benchmarks compare, behind one small interface:
// load(bytes, options?) -> session, predict(session, feeds) -> outputs; only edgeinfer takes
// options, and has `init`. onnxruntime-web runs on `threads` (default 1), fixed at its first
// session.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './paths.mjs';

export const RUNTIMES = {
  // EDGEINFER_PACKAGE: another package directory to measure (a packed tarball's, an older build).
  async edgeinfer() {
    const dir = process.env.EDGEINFER_PACKAGE ?? root;
    const { Model, init } = await import(pathToFileURL(join(dir, 'js/node.js')).href);
    return {
      init,
      load: (bytes, options) => Model.load(bytes, options),
      predict: (m, feeds) => m.predict(feeds),
    };
  },
  async 'onnxruntime-web'({ threads = 1 } = {}) {
    const require = createRequire(join(root, 'package.json'));
    const ort = await import(pathToFileURL(require.resolve('onnxruntime-web')).href);
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = 'fatal';
    return {
      load: (bytes) => ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 4 }),
      predict: (s, feeds) => {
        const f = {};
        for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.dtype ?? 'float32', t.data, t.shape);
        return s.run(f);
      },
    };
  },
};
