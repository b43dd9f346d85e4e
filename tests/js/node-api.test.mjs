// The public API in Node, beyond the shared suite: the forms of the `wasm` option Node takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importPackage, packageDir, root } from './harness.mjs';

const { Model, init } = await importPackage();

test('the wasm option in Node: a module, bytes, a path or a file: URL; a Response or web URL is E_INVALID_OPTION', async () => {
  await Model.load(readFileSync(join(root, 'examples/iris.onnx')));
  for (const wasm of [
    new Response(new Uint8Array(8)),
    'https://example.com/edgeinfer_bg.wasm',
    new URL('http://x/y'),
  ]) {
    await assert.rejects(init({ wasm }), {
      code: 'E_INVALID_OPTION',
      message:
        /the wasm option takes a WebAssembly\.Module, bytes, a file path or a file: URL in Node, got (a Response|'https:|the URL http:)/,
    });
  }
  // A fresh API instance (the module behind the entry point, imported anew) starts from a
  // file: URL given as a string, and names a missing file.
  const wasmPath = join(packageDir, 'dist/edgeinfer_bg.wasm');
  const fresh = async () => (await import(`${pathToFileURL(join(packageDir, 'js/node-api.js'))}?${Math.random()}`)).api;
  await assert.rejects((await fresh()).init({ wasm: `${pathToFileURL(wasmPath)}.missing` }), {
    code: 'E_WASM_LOAD',
    message: /edgeinfer_bg\.wasm\.missing/,
  });
  await (await fresh()).init({ wasm: pathToFileURL(wasmPath).href });
  await (await fresh()).init({ wasm: wasmPath });
});
