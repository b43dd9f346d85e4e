// What a bundle module (`edgeinfer build`'s NAME.js, for browsers and Node) adds: in Node,
// reading the bundle's file, hashing it with node:crypto, and worker_threads for a threads
// bundle; in a page, module Workers for one. Kept out of bundle.js so that NAME.worker.js,
// which never runs in Node and has no threads, imports none of it.
const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** The `host` of `bundleLoader`. */
export const nodeHost = isNode
  ? {
      readFile: async (url) => (await import('node:fs/promises')).readFile(url),
      // Node hashes on this thread while V8 compiles on others: WebCrypto would first copy
      // the sections and load its own modules (a 3% quicker start for the CNN's bundle).
      sha256: async (bytes) => (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'),
      threads: async () => (await import('./node-threads.js')).nodeThreads,
    }
  : { threads: async () => (await import('./web-threads.js')).webThreads };
