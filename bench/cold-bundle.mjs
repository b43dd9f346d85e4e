// One cold start of a generated bundle module, in a fresh process: time from importing it to
// the first prediction's result. Prints { totalMs, loadedFrom } as JSON.
//   node bench/cold-bundle.mjs BUNDLE.js FEEDS_KEY
import { pathToFileURL } from 'node:url';
import { FEEDS } from './feeds.mjs';

const [modulePath, feedsKey] = process.argv.slice(2);
const feeds = FEEDS[feedsKey]();
const t0 = performance.now();
const bundle = await import(pathToFileURL(modulePath).href);
await bundle.predict(feeds);
const totalMs = performance.now() - t0;
console.log(JSON.stringify({ totalMs, loadedFrom: (await bundle.load()).loadedFrom }));
