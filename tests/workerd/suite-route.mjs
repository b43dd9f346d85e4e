// The routes both test Workers serve: POST /suite runs the shared suite (on the fixtures the
// test harness posts) against the entry point the Worker imported, GET /simd says which build
// that entry point started and on how many threads, GET /health answers once the Worker is up.
// The package's own core, the module the entry points import (not an export of the package).
import * as internal from './node_modules/edgeinfer/js/core.js';
import { runSuite } from './suite/suite.mjs';
import { decodeFixtures } from './suite/corpus.mjs';

/** The response of a shared route, or undefined for a request that is not one. */
export async function suiteRoute(api, request) {
  const url = new URL(request.url);
  if (request.method === 'POST' && url.pathname === '/suite') {
    const filter = url.searchParams.get('filter');
    const fixtures = decodeFixtures(await request.json());
    return Response.json(await runSuite(api, fixtures, filter ? new RegExp(filter) : undefined, internal));
  }
  // Asked for four threads: Workers have none to give, so one it is, without an error.
  if (url.pathname === '/simd') return Response.json(await api.init({ threads: 4 }));
  if (url.pathname === '/health') return new Response('ok');
  return undefined;
}
