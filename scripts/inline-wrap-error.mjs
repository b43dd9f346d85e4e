// Rewrites wasm-bindgen's glue so that each import catches JS exceptions itself.
//
// With panic=unwind, wasm-bindgen 0.2.130 wraps every import as
//   function() { return wrapError(function (a, b) { BODY }, arguments); }
// which allocates a closure and goes through `apply` on every call: a prediction makes
// dozens of import calls, and this wrapper was 5-8% of a small model's prediction in
// profiles. The rewrite
//   function (a, b) { try { BODY } catch (e) { wrapErrorRethrow(e); } }
// behaves the same (the same exception reaches the wasm), without either cost.
//   node scripts/inline-wrap-error.mjs dist/edgeinfer.js
import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2];
const glue = readFileSync(path, 'utf8');
const wrapper = /function\(\) \{ return wrapError\(function \(([^)]*)\) \{([\s\S]*?)\}, arguments\); \}/g;
let count = 0;
let out = glue.replace(wrapper, (_, params, body) => {
  count++;
  return `function (${params}) { try {${body}} catch (e) { wrapErrorRethrow(e); } }`;
});
const helper = 'function wrapError(f, args) {';
if (count === 0 || !out.includes(helper)) {
  throw new Error(
    `${path}: wasm-bindgen's wrapError pattern not found; check this script against the wasm-bindgen version`,
  );
}
out = out.replace(
  helper,
  `function wrapErrorRethrow(e) {
    if (e instanceof WebAssembly.Exception) throw e;
    throw new WebAssembly.Exception(__wbindgen_jstag_polyfill, [e], { traceStack: true });
}

${helper}`,
);
if (/return wrapError\(/.test(out)) throw new Error(`${path}: some imports still go through wrapError`);
writeFileSync(path, out);
console.error(`[build] ${count} imports catch their own exceptions`);
