// One cold start inside a browser page, for `bench/bundle.mjs --browser`: what cold.mjs and
// cold-bundle.mjs time in Node. The query names the kind (a runtime loading raw ONNX, or
// `bundle`), the model's or bundle's URL and the feeds; the result lands in window.__result.
// Unlike cold.mjs, which reads the model before its clock starts, a page downloads it on the
// clock, as it does a bundle: in Chromium that costs about 15 ms a MB even from 127.0.0.1.
import { FEEDS } from './feeds.mjs';

const RUNTIMES = {
  async edgeinfer(bytes, feeds) {
    const { Model } = await import('/pkg/js/browser.js');
    const model = await Model.load(bytes);
    await model.predict(feeds);
  },
  async 'onnxruntime-web'(bytes, feeds) {
    // Its wasm-only build; one thread, as in Node (threads need a cross-origin isolated page).
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const tensors = Object.fromEntries(
      Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.dtype, t.data, t.shape)]),
    );
    await session.run(tensors);
  },
};

async function sample({ kind, url, feeds: key }) {
  const feeds = FEEDS[key]();
  if (kind === 'bundle') {
    const t0 = performance.now();
    const bundle = await import(url);
    await bundle.predict(feeds);
    const totalMs = performance.now() - t0;
    return { totalMs, loadedFrom: (await bundle.load()).loadedFrom };
  }
  const t0 = performance.now();
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  await RUNTIMES[kind](bytes, feeds);
  return { totalMs: performance.now() - t0 };
}

const query = Object.fromEntries(new URLSearchParams(location.search));
sample(query).then(
  (result) => {
    window.__result = result;
  },
  (e) => {
    window.__result = { error: String(e?.stack ?? e) };
  },
);
