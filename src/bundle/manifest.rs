//! What a bundle says about itself: identity, the model's digest, its schema, and room for
//! monitoring's reference statistics. The manifest is signed, so everything here is as
//! trustworthy as the signature checked at load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::{Dim, TensorInfo};

pub const FORMAT: &str = "edgeinfer-bundle/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    pub version: String,
    /// RFC 3339, as the builder's clock gave it.
    pub created: String,
    pub runtime: Runtime,
    pub model: Payload,
    pub inputs: Vec<TensorSchema>,
    pub outputs: Vec<TensorSchema>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
    /// Reference statistics of the training data, for drift monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<serde_json::Value>,
    /// The input guard checking features against `reference`, unless a load gives its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<crate::monitor::guard::GuardOptions>,
    /// The loaded model's memory, made at build time (see src/snapshot.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Digest>,
}

/// A section's size and hex SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub name: String,
    pub version: String,
    /// Hex SHA-256 of the runtime's wasm (the bundle file before its sections), checked
    /// wherever the loader has the file's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The ONNX file as given. (The field leaves room for other forms.)
    Onnx,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub encoding: Encoding,
    /// Hex SHA-256 of the payload bytes in the bundle, checked at every load.
    pub sha256: String,
    pub size: u64,
    /// Hex SHA-256 of the ONNX file the bundle was built from.
    pub source_sha256: String,
    /// The ONNX file's digest as OpenSSF model signing names it (the subject of
    /// `edgeinfer sign` or `model_signing sign` of that one file: the SHA-256 of its SHA-256),
    /// so that a bundle can be matched to a model-signing signature of its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_signing_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signer {
    pub algorithm: String,
    /// The first 16 hex digits of the SHA-256 of the raw public key.
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorSchema {
    pub name: String,
    pub dtype: String,
    /// Sizes, or names of symbolic dimensions.
    pub shape: Vec<serde_json::Value>,
}

impl From<&TensorInfo> for TensorSchema {
    fn from(info: &TensorInfo) -> Self {
        let shape = info
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => serde_json::Value::from(*n as u64),
                Dim::Symbolic(s) => serde_json::Value::from(s.as_str()),
            })
            .collect();
        TensorSchema { name: info.name.clone(), dtype: info.dtype.name().to_string(), shape }
    }
}
