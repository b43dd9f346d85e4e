import { execFileSync } from 'node:child_process';
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

// A model of scripts/make_bench_models.py (`cnn`, `gbdt`, `squeezenet`, `minilm`, ...), made on first use.
export function benchModel(name) {
  const path = join(root, '.cache/bench', `${name}.onnx`);
  if (!existsSync(path)) execFileSync(join(root, '.cache/venv/bin/python'), [join(root, 'scripts/make_bench_models.py'), name], { stdio: 'inherit' });
  return path;
}
