//! Ed25519 keys for signing bundles, in the PEM forms OpenSSL and others use (PKCS#8 for the
//! private key, SubjectPublicKeyInfo for the public one). All cryptography is ed25519-dalek's.

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What every signature covers: a domain tag, then the manifest's exact bytes.
fn signed_message(manifest: &[u8]) -> Vec<u8> {
    let mut m = b"edgeinfer-bundle/1\n".to_vec();
    m.extend_from_slice(manifest);
    m
}

/// A key pair from 32 bytes of OS randomness (the caller's: wasm has no entropy of its own).
pub fn keypair_from_seed(seed: &[u8]) -> Result<(String, String)> {
    let seed: [u8; 32] =
        seed.try_into().map_err(|_| Error::InvalidOption(format!("a key seed is 32 bytes, got {}", seed.len())))?;
    let key = SigningKey::from_bytes(&seed);
    // PKCS#8 v1 (the seed alone): OpenSSL 3.0 refuses v2's embedded public key.
    let v1 = ed25519_dalek::pkcs8::KeypairBytes { secret_key: seed, public_key: None };
    let private = v1.to_pkcs8_pem(LineEnding::LF).map_err(|e| Error::Internal(e.to_string()))?.to_string();
    let public = key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((private, public))
}

pub fn signing_key(pem: &str) -> Result<SigningKey> {
    SigningKey::from_pkcs8_pem(pem.trim())
        .map_err(|e| Error::InvalidOption(format!("not an Ed25519 private key in PKCS#8 PEM ({e})")))
}

/// A public key from SPKI PEM, or its 32 raw bytes.
pub fn verifying_key(pem_or_raw: &[u8]) -> Result<VerifyingKey> {
    if let Ok(raw) = <[u8; 32]>::try_from(pem_or_raw) {
        return VerifyingKey::from_bytes(&raw)
            .map_err(|_| Error::InvalidOption("the 32 bytes are not an Ed25519 public key".into()));
    }
    let text = std::str::from_utf8(pem_or_raw)
        .map_err(|_| Error::InvalidOption("a public key is SPKI PEM text or 32 raw bytes".into()))?;
    VerifyingKey::from_public_key_pem(text.trim())
        .map_err(|e| Error::InvalidOption(format!("not an Ed25519 public key in SPKI PEM ({e})")))
}

/// Hex SHA-256, fed in 64 KiB pieces. wasm engines have no on-stack replacement: one call
/// over a whole model stays in the baseline compiler's code for all of it (measured at
/// 24 MB/s in Node), while calls per piece move to the optimised code as soon as it exists.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(sha256(bytes).as_ref())
}

fn sha256(bytes: &[u8]) -> impl AsRef<[u8]> {
    let mut hasher = Sha256::new();
    for piece in bytes.chunks(1 << 16) {
        hasher.update(piece);
    }
    hasher.finalize()
}

/// A single model file's digest in OpenSSF model signing: the statement's subject is the
/// SHA-256 over its resources' raw digests, here the file's one (js/model-signing.js signs it).
pub fn model_signing_digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(sha256(bytes).as_ref()))
}

pub fn key_id(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(key.as_bytes())[..8])
}

pub fn sign(key: &SigningKey, manifest: &[u8]) -> [u8; 64] {
    key.sign(&signed_message(manifest)).to_bytes()
}

/// Checks a signature strictly (no malleable encodings).
pub fn verify(key: &VerifyingKey, manifest: &[u8], signature: &[u8]) -> Result<()> {
    let signature = Signature::from_slice(signature).map_err(|_| {
        Error::Integrity(format!("the signature is {} bytes, not an Ed25519 signature", signature.len()))
    })?;
    key.verify_strict(&signed_message(manifest), &signature)
        .map_err(|_| Error::Integrity(format!("the signature does not match the manifest for key {}", key_id(key))))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_with_pem_keys() {
        let (private, public) = keypair_from_seed(&[7u8; 32]).unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"), "{private}");
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
        let key = signing_key(&private).unwrap();
        assert_eq!(key.to_bytes(), [7u8; 32], "the PEM holds the seed");
        let public = verifying_key(public.as_bytes()).unwrap();
        let sig = sign(&key, b"{\"name\":\"m\"}");
        verify(&public, b"{\"name\":\"m\"}", &sig).unwrap();
        assert_eq!(verify(&public, b"{\"name\":\"n\"}", &sig).unwrap_err().code(), "E_INTEGRITY");
        let mut bad = sig;
        bad[10] ^= 1;
        assert_eq!(verify(&public, b"{\"name\":\"m\"}", &bad).unwrap_err().code(), "E_INTEGRITY");
        let (_, other) = keypair_from_seed(&[8u8; 32]).unwrap();
        let other = verifying_key(other.as_bytes()).unwrap();
        assert!(verify(&other, b"{\"name\":\"m\"}", &sig).unwrap_err().to_string().contains(&key_id(&other)));
        assert_eq!(verifying_key(key.verifying_key().as_bytes()).unwrap(), public);
    }

    #[test]
    fn malformed_keys_are_refused_with_a_reason() {
        assert_eq!(signing_key("hello").unwrap_err().code(), "E_INVALID_OPTION");
        assert_eq!(
            verifying_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").unwrap_err().code(),
            "E_INVALID_OPTION"
        );
        assert_eq!(keypair_from_seed(&[1, 2, 3]).unwrap_err().code(), "E_INVALID_OPTION");
    }
}
