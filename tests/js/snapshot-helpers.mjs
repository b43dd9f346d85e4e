// What bundle-snapshot.test.mjs's fresh processes share (they run in its directory).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, fixtures, importPackage } from './harness.mjs';
import { assertMatches } from '../suite/suite.mjs';

export const read = (name) => readFileSync(name, 'utf8');
export const file = (name) => readFileSync(name);

/** The process's bundle module imported again: the same runtime instance, a new loader. */
export const importAgain = (tag) => import(`${process.env.SNAPSHOT_TEST_BUNDLE}?${tag}`);

/** The iris labels of the first `rows` of two known flowers repeated. */
export async function predictIris(model, rows) {
  const flowers = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
  const data = Float32Array.from({ length: rows * 4 }, (_, i) => flowers[i % 8]);
  return Array.from((await model.predict({ features: { data, shape: [rows, 4] } })).label.data, Number);
}

/**
 * Checks `model` on every corpus case of `name` against onnxruntime's outputs, and against
 * the model parsed from its ONNX (same shapes, same bits); returns the cases checked.
 */
export async function checkCases(model, name) {
  const { Model } = await importPackage();
  const parsed = await Model.load(join(corpusDir(), `${name}.onnx`));
  let checked = 0;
  for (const c of fixtures().cases.filter((c) => c.modelName === name)) {
    const [restored, reference] = [await model.predict(c.inputs), await parsed.predict(c.inputs)];
    for (const [output, expected] of Object.entries(c.outputs)) {
      assertMatches(restored[output], expected, { rtol: c.rtol, atol: c.atol }, `${c.name} ${output}`);
      assert.deepEqual(restored[output].shape, reference[output].shape, `${c.name} ${output} shape`);
      assert.deepEqual(restored[output].data, reference[output].data, `${c.name} ${output} data`);
    }
    checked++;
  }
  return checked;
}
