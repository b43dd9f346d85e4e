// One realm holds one instance of the core, so a benchmark that compares two builds in one
// process runs each from its own copy of the package's JavaScript (its wasm files linked,
// not copied).
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './paths.mjs';
import { THREADS_FILE, WASM_FILES } from '../js/variant.js';

const pkg = process.env.EDGEINFER_PACKAGE ?? root;

/** The package's API from a copy in `dir`, started with `options` (`init`'s). */
export async function packageRealm(dir, options) {
  mkdirSync(join(dir, 'dist'), { recursive: true });
  cpSync(join(pkg, 'js'), join(dir, 'js'), { recursive: true });
  for (const glue of ['edgeinfer.js', 'edgeinfer_threads.js']) cpSync(join(pkg, 'dist', glue), join(dir, 'dist', glue));
  cpSync(join(pkg, 'dist/snippets'), join(dir, 'dist/snippets'), { recursive: true });
  for (const file of [...Object.values(WASM_FILES), THREADS_FILE])
    symlinkSync(join(pkg, 'dist', file), join(dir, 'dist', file));
  const api = await import(pathToFileURL(join(dir, 'js/node.js')).href);
  return { api, started: await api.init(options) };
}
