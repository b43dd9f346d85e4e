// The shared suite in Node, against the package under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from '../suite/suite.mjs';
import { decodeFixtures } from '../suite/corpus.mjs';
import { importPackage, packageDir, suiteFixtures } from './harness.mjs';

const api = await importPackage();
const internal = await import(pathToFileURL(join(packageDir, 'js/core.js')).href);
const { hasRelaxedSimd } = await import(pathToFileURL(join(packageDir, 'js/variant.js')).href);
// The build to run it on: the engine's best unless named (simd.test.mjs names relaxed SIMD,
// threads.test.mjs a number of threads).
const asked = { simd: process.env.EDGEINFER_SIMD ?? 'auto', threads: Number(process.env.EDGEINFER_THREADS ?? 1) };
const { simd, threads } = await api.init(asked);
test(`the suite runs on ${simd}, ${threads} thread(s)`, () => {
  assert.equal(simd, process.env.EDGEINFER_SIMD ?? (hasRelaxedSimd() ? 'relaxed-simd' : 'simd128'));
  assert.equal(threads, asked.threads);
});
for (const t of suite(api, decodeFixtures(suiteFixtures()), internal)) test(t.name, t.fn);
