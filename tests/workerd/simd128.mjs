// The second test Worker: the shared suite on the simd128 build, through the entry point a
// Worker imports for it.
import * as api from 'edgeinfer/simd128';
import { suiteRoute } from './suite-route.mjs';

export default {
  async fetch(request) {
    return (await suiteRoute(api, request)) ?? new Response('not found', { status: 404 });
  },
};
