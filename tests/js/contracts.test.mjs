// Facts that Rust, JS, TypeScript and the README each state: every restatement is checked
// here against the one place that defines it, so that a change to one fails until all agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './harness.mjs';
import { DTYPES } from '../../js/dtypes.js';
import { SECTIONS } from '../../js/core.js';
import { STATUS_BY_CODE } from '../../js/server/http.js';
import { SERVER } from '../../js/server/routes.js';

const read = (path) => readFileSync(join(root, path), 'utf8');
const all = (text, re) => [...text.matchAll(re)].map((m) => m.slice(1));
/** The text between `start` and the first `end` after it. */
const between = (text, start, end) => {
  const i = text.indexOf(start);
  assert.ok(i >= 0, `'${start}' is there`);
  return text.slice(i, text.indexOf(end, i + start.length));
};

test("the dtypes are the core's DType::ALL, in its order (their codes), named as it names them", () => {
  const rust = read('src/dtype.rs');
  const order = all(between(rust, 'pub const ALL', '];'), /DType::(\w+)/g).map(([v]) => v);
  const names = Object.fromEntries(all(between(rust, 'fn name(self)', '}\n    }'), /DType::(\w+) => "(\w+)"/g));
  assert.deepEqual(
    DTYPES.map((d) => d.name),
    order.map((variant) => names[variant]),
  );
  assert.deepEqual(
    DTYPES.map((d) => d.code),
    order.map((_, i) => i),
  );
});

test("index.d.ts's DataOf gives each dtype the container js/dtypes.js names", () => {
  const data = Object.fromEntries(
    all(between(read('js/index.d.ts'), 'interface DataOf', '\n}'), /^ {2}(\w+): ([\w[\]<>, ]+);/gm),
  );
  for (const d of DTYPES) {
    const expected = d.array ? d.array.name : d.name === 'string' ? 'string[]' : 'Array<Record<string, number>>';
    assert.equal(data[d.name], expected, `DataOf.${d.name}`);
  }
  assert.deepEqual(Object.keys(data).sort(), DTYPES.map((d) => d.name).sort());
});

test("the error codes are the core's and the JS layer's, each typed and documented", () => {
  const rust = all(between(read('src/error.rs'), 'pub fn code(&self)', '\n    }\n'), /"(E_[A-Z_]+)"/g).map(([c]) => c);
  const js = new Set();
  for (const file of [
    'js/core.js',
    'js/node.js',
    'js/browser.js',
    'js/workerd-api.js',
    'js/bundle.js',
    'js/bundle-node.js',
  ])
    for (const [code] of all(read(file), /'(E_[A-Z_]+)'/g)) js.add(code);
  const codes = new Set([...rust, ...js]);
  const typed = all(between(read('js/index.d.ts'), 'export type ErrorCode', ';'), /'(E_[A-Z_]+)'/g).map(([c]) => c);
  assert.deepEqual([...typed].sort(), [...codes].sort(), 'ErrorCode is every code');
  // The README's error table: rows whose first cell names codes.
  const documented = all(read('README.md'), /^\| (`E_[^|\n]*)\|/gm).flatMap(([cell]) =>
    all(cell, /`(E_[A-Z_]+)`/g).flat(),
  );
  assert.deepEqual([...documented].sort(), [...codes].sort(), "the README's error table");
  for (const code of Object.keys(STATUS_BY_CODE))
    assert.ok(codes.has(code), `the server maps ${code}, a code that exists`);
});

test("a bundle's section names are the core's", () => {
  const rust = Object.fromEntries(
    all(read('src/bundle/mod.rs'), /pub const (\w+)_SECTION: &str = "([\w.]+)";/g).map(([k, v]) => [
      k.toLowerCase(),
      v,
    ]),
  );
  assert.deepEqual(SECTIONS, rust);
});

test('one version: the package, the crate and the v2 server metadata', () => {
  const version = JSON.parse(read('package.json')).version;
  const crate = read('Cargo.toml').match(/^version = "([^"]+)"/m)[1];
  assert.equal(crate, version, 'Cargo.toml');
  assert.equal(SERVER.version, version, 'the v2 server metadata');
});

test("the prediction id's symbol: the core's tag, core.js's reader and index.d.ts name one symbol", () => {
  // The core puts the id's parts under it (src/interop.rs); core.js reads them back.
  const symbols = (path) => all(read(path), /Symbol\.for\('([^']+)'\)/g).map(([s]) => s);
  const [rust] = symbols('src/interop.rs');
  assert.ok(rust, 'src/interop.rs registers a symbol');
  assert.deepEqual(symbols('js/core.js'), [rust], 'js/core.js');
  assert.deepEqual([...new Set(symbols('js/index.d.ts'))], [rust], 'js/index.d.ts');
});
