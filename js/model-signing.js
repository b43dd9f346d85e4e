// OpenSSF model signing (the `model-signing` package's format, predicate v1.0) for one model
// file, with an elliptic-curve key: a Sigstore bundle v0.3 whose DSSE envelope signs an
// in-toto statement. The statement's one resource is the file (named "."), its subject the
// file's name with the SHA-256 of the resource digests, as `model_signing sign key` writes
// them; anyone with the public key verifies it with `model_signing verify key`. Node only:
// the keys and ECDSA are node:crypto's (OpenSSL). docs/decisions/model-signing.md says why.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { basename } from 'node:path';
import { EdgeInferError } from './core.js';

const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
const PREDICATE_TYPE = 'https://model_signing/signature/v1.0';
/** Curves model-signing takes, with the digest it signs with on each. */
const CURVES = { 'P-256': 'sha256', 'P-384': 'sha384', 'P-521': 'sha512' };
const OPENSSL_CURVES = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

const sha256 = (bytes) => createHash('sha256').update(bytes).digest();

/**
 * A model file's model-signing digest from the file's own SHA-256: the SHA-256 of its one
 * resource's digest, the statement's subject (hex). Bundles record it in their manifest
 * (`model.model_signing_sha256`).
 */
const subjectDigest = (fileDigest) => sha256(fileDigest).toString('hex');

/** DSSE's pre-authentication encoding: what the signature covers. */
const pae = (payload) =>
  Buffer.concat([Buffer.from(`DSSEv1 ${PAYLOAD_TYPE.length} ${PAYLOAD_TYPE} ${payload.length} `), payload]);

/** The key's curve and digest, or a refusal naming the curves model-signing verifies. */
function curveOf(key, path) {
  const curve = OPENSSL_CURVES[key.asymmetricKeyDetails?.namedCurve];
  if (key.asymmetricKeyType !== 'ec' || !curve) {
    const what =
      key.asymmetricKeyType === 'ec'
        ? `an EC key on ${key.asymmetricKeyDetails?.namedCurve}`
        : `not an EC key (${key.asymmetricKeyType})`;
    throw new EdgeInferError(
      'E_INVALID_OPTION',
      `${path} is ${what}; model-signing signatures take P-256, P-384 or P-521 keys (edgeinfer keygen --algorithm p256, or openssl ecparam -name prime256v1 -genkey)`,
    );
  }
  return { curve, hash: CURVES[curve] };
}

const publicPem = (key) => key.export({ type: 'spki', format: 'pem' });

function parseKey(make, pem, path) {
  try {
    return make(pem);
  } catch (e) {
    throw new EdgeInferError('E_INVALID_OPTION', `${path} is not a PEM key: ${e.message}`, { cause: e });
  }
}

/** Signs the model file `bytes`, named `name`, with the PEM private key: the signature's JSON. */
export function signModel(bytes, name, privateKeyPem, keyPath = 'the key') {
  const key = parseKey(createPrivateKey, privateKeyPem, keyPath);
  const { hash } = curveOf(key, keyPath);
  const digest = sha256(bytes);
  const statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: basename(name), digest: { sha256: subjectDigest(digest) } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      resources: [{ algorithm: 'sha256', name: '.', digest: digest.toString('hex') }],
      serialization: { hash_type: 'sha256', method: 'files', allow_symlinks: false, ignore_paths: [] },
    },
  };
  const payload = Buffer.from(JSON.stringify(statement, null, 2));
  const signature = sign(hash, pae(payload), key);
  const bundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      publicKey: { hint: sha256(Buffer.from(publicPem(createPublicKey(key)))).toString('hex') },
      tlogEntries: [],
    },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: PAYLOAD_TYPE,
      signatures: [{ sig: signature.toString('base64'), keyid: '' }],
    },
  };
  return `${JSON.stringify(bundle, null, 2)}\n`;
}

const refuse = (message) => new EdgeInferError('E_INTEGRITY', message);

/**
 * Checks a model-signing signature (its JSON) of the model file `bytes` with the PEM public key;
 * returns the signed statement's subject, or throws E_INTEGRITY saying what did not match.
 */
export function verifyModel(bytes, signatureJson, publicKeyPem, keyPath = 'the key') {
  const key = parseKey(createPublicKey, publicKeyPem, keyPath);
  const { hash } = curveOf(key, keyPath);
  let bundle;
  try {
    bundle = JSON.parse(signatureJson);
  } catch (e) {
    throw refuse(`the signature is not JSON: ${e.message}`);
  }
  if (bundle?.mediaType !== BUNDLE_MEDIA_TYPE) {
    throw refuse(`the signature is not a Sigstore bundle v0.3 (mediaType ${JSON.stringify(bundle?.mediaType)})`);
  }
  const envelope = bundle.dsseEnvelope;
  if (envelope?.payloadType !== PAYLOAD_TYPE || typeof envelope.payload !== 'string') {
    throw refuse('the signature has no DSSE envelope of an in-toto statement');
  }
  const hint = bundle.verificationMaterial?.publicKey?.hint;
  const ours = sha256(Buffer.from(publicPem(key))).toString('hex');
  if (hint && hint !== ours)
    throw refuse(`the signature names another key (hint ${hint.slice(0, 16)}…, ${keyPath} is ${ours.slice(0, 16)}…)`);
  const payload = Buffer.from(envelope.payload, 'base64');
  const signed = (envelope.signatures ?? []).some(
    (s) => typeof s?.sig === 'string' && verify(hash, pae(payload), key, Buffer.from(s.sig, 'base64')),
  );
  if (!signed) throw refuse(`the signature was not made by ${keyPath}`);
  let statement;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    throw refuse(`the signed statement is not JSON: ${e.message}`);
  }
  if (statement?._type !== STATEMENT_TYPE || statement.predicateType !== PREDICATE_TYPE) {
    throw refuse(
      `the signed statement is not a model signature (predicate ${JSON.stringify(statement?.predicateType)})`,
    );
  }
  const resources = statement.predicate?.resources;
  const subject = statement.subject?.[0];
  const digest = sha256(bytes);
  const file = digest.toString('hex');
  if (!Array.isArray(resources) || resources.length !== 1 || resources[0]?.algorithm !== 'sha256') {
    throw refuse(
      `the signature covers ${Array.isArray(resources) ? resources.length : 'no'} files with SHA-256; a model file is one`,
    );
  }
  if (resources[0].digest !== file) {
    throw refuse(
      `the model's SHA-256 is ${file.slice(0, 16)}…, the signature's ${String(resources[0].digest).slice(0, 16)}…: the file was changed`,
    );
  }
  if (subject?.digest?.sha256 !== subjectDigest(digest)) {
    throw refuse('the signed statement is inconsistent: its subject is not the digest of its resources');
  }
  return { name: subject.name, sha256: subject.digest.sha256 };
}

/** A new P-256 key pair as PEM: PKCS#8 private, SPKI public. */
export function p256KeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return [privateKey.export({ type: 'pkcs8', format: 'pem' }), publicKey.export({ type: 'spki', format: 'pem' })];
}
