// A test Worker: runs the shared suite inside workerd against the installed package's
// default entry point (the relaxed-SIMD build), and what only workerd does.
import * as api from 'edgeinfer';
import { suiteRoute } from './suite-route.mjs';
// Bundles made by `edgeinfer build` (by the test harness), through their generated workerd
// modules: one with the simd128 build, one with `--simd relaxed-simd`.
import * as iris from './bundles/iris.worker.js';
import * as irisRelaxed from './bundles-relaxed/iris.worker.js';

export default {
  async fetch(request) {
    const shared = await suiteRoute(api, request);
    if (shared) return shared;
    const url = new URL(request.url);
    if (url.pathname === '/bundle') {
      const publicKey = url.searchParams.get('publicKey') ?? undefined;
      const bundle = url.searchParams.has('relaxed') ? irisRelaxed : iris;
      try {
        const model = await bundle.load({ publicKey });
        const out = await model.predict({
          features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]), shape: [2, 4] },
        });
        return Response.json({
          name: bundle.manifest.name,
          labels: bundle.labels,
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
      // Nor does it start the simd128 build, which it does not carry.
      const simd128 = await api.init({ simd: 'simd128' }).then(
        () => 'started',
        (e) => `${e.code}: ${e.message}`,
      );
      return Response.json({ codes, simd128 });
    }
    return new Response('not found', { status: 404 });
  },
};
