// Models kept in an R2 bucket instead of in the Worker's script: a script holds what it imports
// for the isolate's life (a 45 MB model is 45 MB of its 128 MB), and has a size limit. The
// object is read once per isolate, into one buffer of its size, hashed as it streams in, and
// refused unless its SHA-256 is the one pinned in the Worker's source when it was scaffolded:
// the bucket is storage, not a place the Worker trusts.
import { EdgeInferError } from '../core.js';

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The bytes of the object `key` in the R2 bucket bound as `binding`, checked against `sha256`
 * (hex). E_MODEL_FETCH when the binding or the object is missing, E_INTEGRITY when the bytes
 * are not the pinned ones.
 * @param {Record<string, any>} env the Worker's environment
 * @param {{ binding?: string, key: string, sha256: string }} where
 */
export async function readFromR2(env, { binding = 'MODELS', key, sha256 }) {
  const bucket = env?.[binding];
  if (typeof bucket?.get !== 'function')
    throw new EdgeInferError(
      'E_MODEL_FETCH',
      `no R2 bucket bound as '${binding}' in the Worker's environment (wrangler.toml's [[r2_buckets]])`,
    );
  if (!/^[0-9a-f]{64}$/.test(sha256 ?? ''))
    throw new EdgeInferError('E_INVALID_OPTION', `the R2 model '${key}' needs its sha256 as 64 hex digits`);
  const object = await bucket.get(key);
  if (!object)
    throw new EdgeInferError(
      'E_MODEL_FETCH',
      `R2 object '${key}' not found in the bucket bound as '${binding}' (upload it: npm run upload-models)`,
    );
  const bytes = new Uint8Array(object.size);
  // workerd's DigestStream hashes the chunks as they come; elsewhere, the whole buffer after.
  const digest = typeof crypto.DigestStream === 'function' ? new crypto.DigestStream('SHA-256') : null;
  const hasher = digest?.getWriter();
  const reader = object.body.getReader();
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > bytes.length)
      throw new EdgeInferError('E_MODEL_FETCH', `R2 object '${key}' is longer than its stated ${object.size} bytes`);
    bytes.set(value, at);
    at += value.length;
    await hasher?.write(value);
  }
  if (at !== bytes.length)
    throw new EdgeInferError('E_MODEL_FETCH', `R2 object '${key}' ended after ${at} of ${object.size} bytes`);
  let got;
  if (hasher) {
    await hasher.close();
    got = hex(await digest.digest);
  } else got = hex(await crypto.subtle.digest('SHA-256', bytes));
  if (got !== sha256)
    throw new EdgeInferError(
      'E_INTEGRITY',
      `R2 object '${key}' has SHA-256 ${got}, expected ${sha256} (the file the Worker was scaffolded with)`,
    );
  return bytes;
}
