// A bundle's snapshot: the memory of a runtime instance that has loaded the bundle's model
// (see src/snapshot.rs). `makeSnapshot` runs at build time; `restoreSnapshot` writes one over
// a fresh instance's memory at load, after the core has checked it against the manifest.
//
// Format, little-endian: u32 version (1), u32 pages (64 KiB each), u32 count, then count
// runs of u32 offset, u32 length and length bytes. Memory outside the runs is zero.
import { sections } from './wasm-reader.js';

const VERSION = 1;
const PAGE = 65536;
/** Zero gaps shorter than this stay inside a run: a run's header costs 8 bytes. */
const MIN_GAP = 64;

/**
 * The snapshot of `runtime` (this runtime's wasm) with `onnx` loaded. Its instance gets
 * imports that all throw, so the model it parks refers to no JS value.
 */
export function makeSnapshot(runtime, onnx) {
  const module = new WebAssembly.Module(runtime);
  /** @type {Record<string, Record<string, any>>} */
  const imports = {};
  for (const { module: ns, name, kind } of WebAssembly.Module.imports(module)) {
    const scope = (imports[ns] ??= {});
    // The exception-handling proposal's imports are tags, a kind TypeScript does not list.
    if (/** @type {string} */ (kind) === 'tag') scope[name] = new WebAssembly.Tag({ parameters: ['externref'] });
    // The threads build's shared memory, as its glue makes it.
    else if (kind === 'memory') scope[name] = new WebAssembly.Memory({ ...importedMemory(runtime), shared: true });
    else if (kind !== 'function')
      throw new Error(`the runtime imports a ${kind} (${name}), which a snapshot cannot provide`);
    else if (name === '__wbindgen_init_externref_table') scope[name] = () => {};
    else
      scope[name] = () => {
        throw new Error(`loading the model called into JS (${name}), so its memory cannot be a snapshot`);
      };
  }
  const exports = /** @type {Record<string, any>} */ (new WebAssembly.Instance(module, imports).exports);
  exports.__wbindgen_start();
  const table = exports.__wbindgen_externrefs.length;
  const ptr = exports.__wbindgen_malloc(onnx.length, 1);
  new Uint8Array(exports.memory.buffer, ptr, onnx.length).set(onnx);
  if (exports.edgeinfer_snapshot(ptr, onnx.length) !== 0) throw new Error('the model does not load in a fresh runtime');
  if (exports.__wbindgen_externrefs.length !== table)
    throw new Error('loading the model made JS values, so its memory cannot be a snapshot');
  return encode(new Uint8Array(exports.memory.buffer));
}

/**
 * The limits, in pages, of the memory `wasm` (a module's bytes) imports: `{ initial, maximum }`
 * from its import section. Throws when it imports none.
 */
function importedMemory(wasm) {
  const IMPORTS = 2;
  for (const [id, cursor] of sections(wasm)) {
    if (id !== IMPORTS) continue;
    const limits = () => {
      const flags = wasm[cursor.at++];
      const initial = cursor.leb();
      return { initial, maximum: flags & 1 ? cursor.leb() : undefined };
    };
    for (let n = cursor.leb(); n > 0; n--) {
      cursor.name();
      cursor.name();
      // Each kind's description: a function's type, a table's element type and limits, a
      // memory's limits, a global's type and mutability, a tag's attribute and type.
      const kind = wasm[cursor.at++];
      if (kind === 2) return limits();
      if (kind === 0) cursor.leb();
      else if (kind === 1) (cursor.at++, limits());
      else if (kind === 3) cursor.at += 2;
      else if (kind === 4) (cursor.at++, cursor.leb());
      else break;
    }
  }
  throw new Error('the runtime imports no memory');
}

/** Memory as runs of bytes that are not zero. */
function encode(memory) {
  const runs = [];
  let at = 0;
  while (at < memory.length) {
    while (at < memory.length && memory[at] === 0) at++;
    if (at === memory.length) break;
    let end = at,
      zeros = 0;
    while (end < memory.length && zeros < MIN_GAP) {
      zeros = memory[end] === 0 ? zeros + 1 : 0;
      end++;
    }
    runs.push([at, end - zeros]);
    at = end;
  }
  const size = 12 + runs.reduce((n, [from, to]) => n + 8 + to - from, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, VERSION, true);
  view.setUint32(4, memory.length / PAGE, true);
  view.setUint32(8, runs.length, true);
  let o = 12;
  for (const [from, to] of runs) {
    view.setUint32(o, from, true);
    view.setUint32(o + 4, to - from, true);
    out.set(memory.subarray(from, to), o + 8);
    o += 8 + to - from;
  }
  return out;
}

/**
 * Makes `memory` (a fresh instance's, holding nothing) the snapshot's. Every run is checked
 * before memory is touched; throws on a malformed snapshot.
 */
export function restoreSnapshot(memory, snapshot) {
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  const fail = (why) => {
    throw new Error(`the snapshot is malformed: ${why}`);
  };
  if (snapshot.length < 12 || view.getUint32(0, true) !== VERSION) fail(`expected version ${VERSION}`);
  const bytes = view.getUint32(4, true) * PAGE,
    count = view.getUint32(8, true);
  const runs = [];
  for (let i = 0, o = 12; i < count; i++) {
    if (o + 8 > snapshot.length) fail(`run ${i} of ${count} is cut off`);
    const offset = view.getUint32(o, true),
      length = view.getUint32(o + 4, true);
    if (o + 8 + length > snapshot.length || offset + length > bytes) fail(`run ${i} is out of bounds`);
    runs.push([offset, o + 8, length]);
    o += 8 + length;
    if (i === count - 1 && o !== snapshot.length) fail(`${snapshot.length - o} bytes follow the last run`);
  }
  new Uint8Array(memory.buffer).fill(0);
  if (bytes > memory.buffer.byteLength) memory.grow((bytes - memory.buffer.byteLength) / PAGE);
  const target = new Uint8Array(memory.buffer);
  for (const [offset, at, length] of runs) target.set(snapshot.subarray(at, at + length), offset);
}
