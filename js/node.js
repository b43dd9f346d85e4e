// Node entry point: the wasm is read from the package directory; a string source is a file
// path (or an http(s) URL, fetched). The API is built in node-api.js, which the command line
// shares.
import { api } from './node-api.js';

export const { Model, init, buildReference } = api;
export { EdgeInferError, predictionId } from './core.js';
