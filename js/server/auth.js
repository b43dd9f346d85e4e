// Who is calling and what they may do. Credentials come as `Authorization: Bearer <token>`,
// where the token is an API key (held as a Worker secret, with a name and scopes) or a JWT
// (HS256 or EdDSA, verified with jose; exp required, nbf checked, aud and iss when
// JWT_AUDIENCE and JWT_ISSUER are set). Secrets never appear in responses or logs: errors
// say what kind of credential failed, never its value.
import { decodeProtectedHeader, importJWK, importSPKI, jwtVerify } from 'jose';
import { HttpError } from './http.js';

const CHALLENGE = { 'www-authenticate': 'Bearer' };

/**
 * Parses API_KEYS: `[{ "name": "ci", "key": "...", "scopes": ["predict"] }]`, each with an
 * optional `"rateLimit": "BINDING"`, the Rate Limiting binding its own budget is counted in.
 */
export async function parseApiKeys(text) {
  if (!text) return [];
  let keys;
  try {
    keys = JSON.parse(text);
  } catch {
    throw new Error('API_KEYS is not JSON: expected [{ "name", "key", "scopes" }]');
  }
  if (!Array.isArray(keys)) throw new Error('API_KEYS must be a JSON array of { "name", "key", "scopes" }');
  return Promise.all(
    keys.map(async (k, i) => {
      if (typeof k?.name !== 'string' || typeof k?.key !== 'string' || k.key.length < 16 || !Array.isArray(k.scopes)) {
        throw new Error(`API_KEYS[${i}] needs a name, a key of at least 16 characters and a scopes array`);
      }
      // A key shaped like a JWT would be taken for one once a JWT verifier is configured.
      if (looksLikeJwt(k.key))
        throw new Error(
          `API_KEYS[${i}] ('${k.name}') is shaped like a JWT (three dot-separated parts): choose another key`,
        );
      if (k.rateLimit !== undefined && (typeof k.rateLimit !== 'string' || !k.rateLimit)) {
        throw new Error(
          `API_KEYS[${i}] ('${k.name}'): rateLimit names a Rate Limiting binding, got ${JSON.stringify(k.rateLimit)}`,
        );
      }
      return { name: k.name, scopes: new Set(k.scopes), rateLimit: k.rateLimit, digest: await sha256(k.key) };
    }),
  );
}

/** The JWT verifiers configured (HS256 secret, EdDSA public key as JWK JSON or SPKI PEM). */
export async function jwtKeys(settings) {
  const keys = {};
  if (settings.jwtHs256Secret) {
    keys.HS256 = new TextEncoder().encode(settings.jwtHs256Secret);
    // RFC 7518 3.2: an HS256 key is at least as long as the hash, 256 bits.
    if (keys.HS256.length < 32)
      throw new Error(`JWT_HS256_SECRET is ${keys.HS256.length} bytes; it must be at least 32`);
  }
  if (settings.jwtEddsaPublicKey) {
    const text = settings.jwtEddsaPublicKey.trim();
    keys.EdDSA = text.startsWith('{') ? await importJWK(JSON.parse(text), 'EdDSA') : await importSPKI(text, 'EdDSA');
  }
  return keys;
}

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** Compares digests without an early exit, so timing does not tell how much matched. */
function sameDigest(a, b) {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

const looksLikeJwt = (t) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(t);

/** How far clocks may disagree on a JWT's exp and nbf (jose's clockTolerance), in seconds. */
export const CLOCK_TOLERANCE_SECONDS = 5;

/** Returns `{ name, scopes }` for the request's credentials, or throws 401. */
export async function authenticate(request, auth) {
  const header = request.headers.get('authorization');
  if (!header) throw new HttpError(401, 'missing credentials: send Authorization: Bearer <API key or JWT>', CHALLENGE);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new HttpError(401, 'malformed Authorization header: expected Bearer <token>', CHALLENGE);
  const token = match[1];
  if (looksLikeJwt(token) && Object.keys(auth.jwt).length) return verifyJwt(token, auth);
  const digest = await sha256(token);
  let found = null;
  for (const key of auth.apiKeys) {
    if (sameDigest(digest, key.digest)) found = key;
  }
  if (!found) throw new HttpError(401, 'invalid API key', CHALLENGE);
  return { name: found.name, scopes: found.scopes, rateLimit: found.rateLimit };
}

async function verifyJwt(token, auth) {
  let alg;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new HttpError(401, 'invalid token: unreadable JWT header', CHALLENGE);
  }
  const key = auth.jwt[alg];
  if (!key)
    throw new HttpError(
      401,
      `invalid token: algorithm ${alg} is not accepted (accepted: ${Object.keys(auth.jwt).join(', ')})`,
      CHALLENGE,
    );
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [alg],
      // A token that never expires is a key that cannot be revoked.
      requiredClaims: ['exp'],
      ...(auth.jwtAudience ? { audience: auth.jwtAudience } : {}),
      ...(auth.jwtIssuer ? { issuer: auth.jwtIssuer } : {}),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    if (payload.exp - Date.now() / 1000 > auth.jwtMaxLifetime + CLOCK_TOLERANCE_SECONDS) {
      throw Object.assign(new Error(`expires more than JWT_MAX_LIFETIME (${auth.jwtMaxLifetime} s) from now`), {
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      });
    }
    const scopes =
      typeof payload.scope === 'string'
        ? payload.scope.split(/\s+/)
        : Array.isArray(payload.scopes)
          ? payload.scopes
          : [];
    return { name: `jwt:${payload.sub ?? 'unknown'}`, scopes: new Set(scopes) };
  } catch (e) {
    const why = {
      ERR_JWT_EXPIRED: 'expired',
      ERR_JWT_CLAIM_VALIDATION_FAILED: e.message,
      ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'bad signature',
    }[e.code];
    throw new HttpError(401, `invalid token: ${why ?? 'cannot be verified'}`, CHALLENGE);
  }
}

/** Throws 403 unless `who` holds `scope` (or admin); a null scope asks for valid credentials only. */
export function authorize(who, scope) {
  if (scope && !who.scopes.has(scope) && !who.scopes.has('admin')) {
    throw new HttpError(403, `the credentials of '${who.name}' lack the '${scope}' scope`);
  }
}
