// What the Node-side tests share: the package under test (the installed tarball, named by
// $EDGEINFER_PACKAGE, else this checkout) and the shared corpus as fixtures.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeFixtures } from '../suite/corpus.mjs';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The directory of the package under test. */
export const packageDir = resolve(process.env.EDGEINFER_PACKAGE ?? root);

/** Imports the package the way a user's code would, through its package.json exports. */
export async function importPackage() {
  // A package resolves its own name through its exports (conditions: node, require).
  const entry = createRequire(join(packageDir, 'package.json')).resolve('edgeinfer');
  return import(pathToFileURL(entry).href);
}

export function sharedDir() {
  const candidates = [process.env.EDGEINFER_SHARED, join(root, '../shared'), '/work/shared'].filter(Boolean);
  const hit = candidates.find((d) => existsSync(join(d, 'corpus')));
  if (!hit) throw new Error('the shared corpus: set EDGEINFER_SHARED to the directory holding corpus/');
  return hit;
}

export const corpusDir = () => join(sharedDir(), 'corpus');

/** The corpus as the in-runtime harnesses receive it: case JSON and base64 models. */
export function packedFixtures() {
  const dir = corpusDir();
  const cases = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  const models = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.onnx'))) models[f] = readFileSync(join(dir, f)).toString('base64');
  return { cases, models };
}

export const fixtures = () => decodeFixtures(packedFixtures());
