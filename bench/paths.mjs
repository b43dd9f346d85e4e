import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function corpusDir() {
  const hit = [process.env.EDGEINFER_SHARED, join(root, '../shared'), '/work/shared']
    .filter(Boolean)
    .find((d) => existsSync(join(d, 'corpus')));
  if (!hit) throw new Error('the shared corpus: set EDGEINFER_SHARED to the directory holding corpus/');
  return join(hit, 'corpus');
}
