// The demo's service worker: after the first visit the page, the package (its JS and wasm),
// the model and the film list come from the cache, so recommendations work offline.
// Stale-while-revalidate: the cached copy answers at once and the network refreshes it for
// the next visit (cheaply: the demo server answers 304 to conditional requests).
const CACHE = 'edgeinfer-demo-v5';

// What the page needs, relative to this file; app.js adds whatever else it loaded, the build
// of the wasm the browser chose among them (edgeinfer's js/variant.js): precaching one here
// would download a build the browser never runs.
const SHELL = [
  './',
  'style.css',
  'app.js',
  'film-search.js',
  'recommender.js',
  'data/films.json',
  'data/metrics.json',
  'data/recommender.onnx',
  'edgeinfer/js/browser.js',
  'edgeinfer/js/core.js',
  'edgeinfer/js/snapshot.js',
  'edgeinfer/js/wasm-reader.js',
  'edgeinfer/js/variant.js',
  'edgeinfer/js/dtypes.js',
  'edgeinfer/js/table.js',
  'edgeinfer/js/web-threads.js',
  'edgeinfer/js/web-thread.js',
  'edgeinfer/dist/edgeinfer.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(staleWhileRevalidate(event));
});

async function staleWhileRevalidate(event) {
  const { request } = event;
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
  const refreshed = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(request, response.clone());
    return response;
  });
  if (!cached) return refreshed;
  // Offline, the refresh fails: the cached copy has already answered.
  event.waitUntil(refreshed.catch(() => undefined));
  return cached;
}

// { type: 'cache', urls } from the page: caches those not cached yet, then replies on the port.
self.addEventListener('message', (event) => {
  if (event.data?.type !== 'cache') return;
  const reply = event.ports[0];
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const urls = event.data.urls.filter((url) => new URL(url).origin === self.location.origin);
      for (const url of urls) {
        if (!(await cache.match(url))) await cache.add(url);
      }
      reply?.postMessage({ cached: urls.length });
    })().catch((e) => reply?.postMessage({ error: String(e?.message ?? e) })),
  );
});
