import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The acceptance corpus: the project's copy, or `$EDGEINFER_SHARED/corpus` where that is set. */
export const corpusDir = () =>
  process.env.EDGEINFER_SHARED ? join(process.env.EDGEINFER_SHARED, 'corpus') : join(root, 'tests/fixtures/corpus');

// A model of scripts/make_bench_models.py (`cnn`, `gbdt`, `squeezenet`, `minilm`, ...), made on first use.
export function benchModel(name) {
  const path = join(root, '.cache/bench', `${name}.onnx`);
  if (!existsSync(path))
    execFileSync(join(root, '.cache/venv/bin/python'), [join(root, 'scripts/make_bench_models.py'), name], {
      stdio: 'inherit',
    });
  return path;
}
