// A test Worker: runs the shared suite inside workerd against the installed package, with
// the fixtures the test harness posts.
import * as api from 'edgeinfer';
import { runSuite } from './suite/suite.mjs';
import { decodeFixtures } from './suite/corpus.mjs';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/suite') {
      const packed = await request.json();
      const filter = url.searchParams.get('filter');
      const results = await runSuite(api, decodeFixtures(packed), filter ? new RegExp(filter) : undefined);
      return Response.json(results);
    }
    if (url.pathname === '/health') return new Response('ok');
    return new Response('not found', { status: 404 });
  },
};
