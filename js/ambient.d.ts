// Modules and globals the JS layer uses that TypeScript's libraries do not describe.

/** wrangler bundles a .wasm import as its compiled module (workerd.js). */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

declare namespace WebAssembly {
  /** The exception-handling proposal's tag and exception (snapshot.js, the glue). */
  class Tag {
    constructor(type: { parameters: string[] });
  }
  class Exception {
    constructor(tag: Tag, payload: unknown[]);
    is(tag: Tag): boolean;
    getArg(tag: Tag, index: number): unknown;
  }
}

/** workerd's hashing stream (r2.js), where it has one. */
interface Crypto {
  DigestStream?: new (algorithm: string) => WritableStream<Uint8Array> & { digest: Promise<ArrayBuffer> };
}
