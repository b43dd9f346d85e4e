// The binary tensor data extension of the v2 protocol (as Triton and its clients speak it):
// the JSON header comes first, `Inference-Header-Content-Length` bytes long, then each
// binary tensor's raw little-endian bytes in input order, sized by its
// `parameters.binary_data_size`. BYTES elements are a 4-byte little-endian length and UTF-8.
import { HttpError } from './http.js';
import { DTYPES } from '../dtypes.js';

/** The typed array of each v2 datatype with a fixed size. */
const ARRAYS = Object.fromEntries(DTYPES.filter((d) => d.array && d.v2).map((d) => [d.v2, d.array]));

/** Splits a request body into its JSON header and the binary tail. */
export function splitBody(bytes, headerLength) {
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0 || n > bytes.length) {
    throw new HttpError(
      400,
      `Inference-Header-Content-Length is ${headerLength}, but the body has ${bytes.length} bytes`,
    );
  }
  return { header: bytes.subarray(0, n), tail: bytes.subarray(n) };
}

/** Reads one tensor of `count` elements from `tail` at `offset`; returns [values, bytes used]. */
export function readTensor(name, datatype, count, tail, offset, size) {
  if (!Number.isInteger(size) || size < 0 || offset + size > tail.length) {
    throw new HttpError(400, `input '${name}': binary_data_size ${size} runs past the end of the body`);
  }
  const bytes = tail.slice(offset, offset + size);
  if (datatype === 'BYTES') {
    const values = [];
    const view = new DataView(bytes.buffer);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let at = 0; at < size;) {
      if (at + 4 > size) throw new HttpError(400, `input '${name}': a BYTES element's length runs past its data`);
      const len = view.getUint32(at, true);
      if (at + 4 + len > size) throw new HttpError(400, `input '${name}': a BYTES element runs past its data`);
      try {
        values.push(decoder.decode(bytes.subarray(at + 4, at + 4 + len)));
      } catch {
        throw new HttpError(400, `input '${name}': a BYTES element is not UTF-8`);
      }
      at += 4 + len;
    }
    if (values.length !== count)
      throw new HttpError(400, `input '${name}': ${values.length} BYTES elements, expected ${count}`);
    return values;
  }
  const C = ARRAYS[datatype];
  if (size !== count * C.BYTES_PER_ELEMENT) {
    throw new HttpError(
      400,
      `input '${name}': binary_data_size ${size} is not ${count} ${datatype} values (${count * C.BYTES_PER_ELEMENT} bytes)`,
    );
  }
  return new C(bytes.buffer, 0, count);
}

/** An output's bytes in the binary layout. */
export function encodeTensor(t) {
  if (t.dtype === 'string' || t.dtype === 'map') {
    const enc = new TextEncoder();
    const parts = (t.dtype === 'map' ? t.data.map((r) => JSON.stringify(r)) : t.data).map((s) => enc.encode(s));
    const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const p of parts) {
      view.setUint32(at, p.length, true);
      out.set(p, at + 4);
      at += 4 + p.length;
    }
    return out;
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
