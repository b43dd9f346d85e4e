// Reading a WebAssembly module's bytes where the engine's API says too little: the custom
// sections of bytes not yet compiled (bundle.js), the limits of an imported memory
// (snapshot.js).

/** A position in `bytes` that reads the binary format's numbers and names forward. */
export class Cursor {
  constructor(bytes, at = 0) {
    this.bytes = bytes;
    this.at = at;
  }

  /** An unsigned LEB128 number (stopping at the end of the bytes). */
  leb() {
    let value = 0,
      shift = 0,
      b;
    do {
      b = this.bytes[this.at++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && this.at < this.bytes.length);
    return value;
  }

  /** A name: its length, then UTF-8. */
  name() {
    const length = this.leb();
    this.at += length;
    return new TextDecoder().decode(this.bytes.subarray(this.at - length, this.at));
  }
}

/** The module's sections, in order: `[id, cursor at the contents, end]`. */
export function* sections(bytes) {
  const cursor = new Cursor(bytes, 8);
  while (cursor.at < bytes.length) {
    const id = bytes[cursor.at++];
    const end = cursor.leb() + cursor.at;
    yield [id, cursor, end];
    cursor.at = end;
  }
}
