// A test Worker: runs the shared suite inside workerd against the installed package, with
// the fixtures the test harness posts.
import * as api from 'edgeinfer';
// The package's own core, the module the entry point imports (not an export of the package).
import * as internal from './node_modules/edgeinfer/js/core.js';
import { runSuite } from './suite/suite.mjs';
import { decodeFixtures } from './suite/corpus.mjs';
// A bundle made by `edgeinfer build` (by the test harness), through its generated workerd module.
import * as iris from './bundles/iris.worker.js';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/suite') {
      const packed = await request.json();
      const filter = url.searchParams.get('filter');
      const results = await runSuite(api, decodeFixtures(packed), filter ? new RegExp(filter) : undefined, internal);
      return Response.json(results);
    }
    if (url.pathname === '/bundle') {
      const publicKey = url.searchParams.get('publicKey') ?? undefined;
      try {
        const model = await iris.load({ publicKey });
        const out = await model.predict({
          features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]), shape: [2, 4] },
        });
        return Response.json({
          name: iris.manifest.name,
          labels: iris.labels,
          label: Array.from(out.label.data, Number),
          signer: model.manifest.signer,
          loadedFrom: model.loadedFrom,
        });
      } catch (e) {
        return Response.json({ code: e.code, message: e.message }, { status: 400 });
      }
    }
    if (url.pathname === '/wasm-forms') {
      // workerd compiles no wasm at run time: only a compiled module is taken.
      const codes = [];
      for (const wasm of [new Uint8Array(8), 'https://example.com/edgeinfer_bg.wasm', new Response('')]) {
        codes.push(
          await api.init({ wasm }).then(
            () => 'started',
            (e) => `${e.code}: ${e.message}`,
          ),
        );
      }
      // Nor does it start the relaxed-SIMD build on its own (the Worker would carry both).
      const relaxed = await api.init({ simd: 'relaxed-simd' }).then(
        () => 'started',
        (e) => `${e.code}: ${e.message}`,
      );
      return Response.json({ codes, relaxed, simd: (await api.init()).simd });
    }
    if (url.pathname === '/health') return new Response('ok');
    return new Response('not found', { status: 404 });
  },
};
