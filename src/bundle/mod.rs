//! Deployable bundles: the runtime's own wasm with a model, its manifest and an optional
//! Ed25519 signature appended as custom sections. One file to ship; users need no Rust
//! toolchain to make one, as the running runtime appends the sections to a copy of itself.
//!
//! The model is stored as the ONNX file. tract's NNEF form of the decluttered model was
//! tried twice and measured in fresh Node processes: it started no faster than ONNX (a 4.6 MB
//! CNN: 505-564 ms against 432-574 ms), since building NNEF's registry parses its standard
//! library and parsing the graph text costs about what ONNX's analysis does, and tract's
//! optimisation, which both need, stays; it also cost 100 KB gzipped.
//!
//! What starts fast instead is a snapshot: the memory of the runtime instance that loaded the
//! model at build time, in a section of its own (see src/snapshot.rs and js/snapshot.js).
//! The ONNX stays, for loaders that cannot restore it.
//!
//! Opening a bundle checks, before any operator runs: the signature over the manifest (when
//! the caller gives a public key), the runtime version the bundle was built for, and the
//! model's and the snapshot's sizes and SHA-256 digests against the manifest.

pub mod keys;
pub mod manifest;
mod sections;

use tract_onnx::prelude::Framework;

use crate::error::{Error, Result};
use crate::model::{Graph, LoadOptions, Model, parse_onnx};
use manifest::{Encoding, Manifest, Payload, Runtime, Signer, TensorSchema};

pub const MANIFEST_SECTION: &str = "edgeinfer.manifest";
pub const MODEL_SECTION: &str = "edgeinfer.model";
pub const SIGNATURE_SECTION: &str = "edgeinfer.signature";
pub const SNAPSHOT_SECTION: &str = "edgeinfer.snapshot";

const RUNTIME_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether the bytes are a WebAssembly module (and so, for `Model::load`, a bundle).
pub fn is_bundle(bytes: &[u8]) -> bool {
    sections::is_wasm(bytes)
}

pub(crate) struct Opened {
    pub manifest: Manifest,
    pub graph: Graph,
}

/// The sections of a bundle, and the runtime's bytes where they are known (a whole file;
/// JS reading a compiled module in workerd has only the sections).
pub struct Parts<'a> {
    pub manifest: &'a [u8],
    pub model: Section<'a>,
    pub signature: Option<&'a [u8]>,
    pub runtime: Option<&'a [u8]>,
    /// The snapshot section, if the bundle has one.
    pub snapshot: Option<Section<'a>>,
}

/// What the loader has of a model or snapshot section: its size, its bytes where it will use
/// them, and its SHA-256 (hex) where the host computed it with a native digest (WebCrypto).
/// sha2 compiled to wasm hashes at about 180 MB/s once V8 has optimised it, and a cold start
/// runs it in the baseline tier (about 40 ms for a 4.6 MB model); the host's digest is held
/// to the manifest exactly as the core's own would be.
pub struct Section<'a> {
    pub size: u64,
    pub bytes: Option<&'a [u8]>,
    pub sha256: Option<&'a str>,
}

impl<'a> Section<'a> {
    /// Bytes to be hashed here.
    pub fn bytes(bytes: &'a [u8]) -> Section<'a> {
        Section { size: bytes.len() as u64, bytes: Some(bytes), sha256: None }
    }

    /// Its SHA-256: the host's, else of its bytes; `None` when it has neither (a snapshot
    /// the host will not restore, having no WebCrypto).
    fn digest(&self) -> Option<String> {
        self.sha256.map(str::to_ascii_lowercase).or_else(|| self.bytes.map(keys::sha256_hex))
    }
}

pub fn parts(bytes: &[u8]) -> Result<Parts<'_>> {
    let all = sections::custom_sections(bytes).map_err(|e| Error::Integrity(format!("unreadable bundle: {e}")))?;
    // The runtime is everything before the first of our sections, which are appended last.
    let runtime_end = all.iter().filter(|(n, _, _)| n.starts_with("edgeinfer.")).map(|(_, _, at)| *at).min();
    let find = |name| sections::custom_section(&all, name).map_err(Error::Integrity);
    let missing = |name: &str| {
        Error::Integrity(format!(
            "the module has no '{name}' section: it is not an edgeinfer bundle, or a section was removed"
        ))
    };
    Ok(Parts {
        manifest: find(MANIFEST_SECTION)?.ok_or_else(|| missing(MANIFEST_SECTION))?,
        model: Section::bytes(find(MODEL_SECTION)?.ok_or_else(|| missing(MODEL_SECTION))?),
        signature: find(SIGNATURE_SECTION)?,
        runtime: runtime_end.map(|end| &bytes[..end]),
        snapshot: find(SNAPSHOT_SECTION)?.map(Section::bytes),
    })
}

/// Opens a whole bundle file.
pub(crate) fn open(bytes: &[u8], options: &LoadOptions) -> Result<Opened> {
    open_parts(&parts(bytes)?, options)
}

/// Checks a bundle's parts (read from the file, or by JS from a compiled module) and turns
/// the payload into a graph.
pub(crate) fn open_parts(parts: &Parts, options: &LoadOptions) -> Result<Opened> {
    let manifest = check(parts, options)?;
    let graph = match manifest.model.encoding {
        Encoding::Onnx => parse_onnx(
            parts.model.bytes.ok_or_else(|| Error::Internal("the model's bytes were not passed".into()))?,
            options,
        )?,
    };
    Ok(Opened { manifest, graph })
}

/// Every check that must pass before the payload is parsed; returns the trusted manifest.
pub fn check(parts: &Parts, options: &LoadOptions) -> Result<Manifest> {
    if let Some(key) = &options.public_key {
        check_signature(parts.manifest, parts.signature, key)?;
    }
    let manifest: Manifest = serde_json::from_slice(parts.manifest)
        .map_err(|e| Error::Integrity(format!("the manifest is not a valid bundle manifest: {e}")))?;
    if manifest.format != manifest::FORMAT {
        return Err(Error::Integrity(format!(
            "unknown bundle format '{}', expected '{}'",
            manifest.format,
            manifest::FORMAT
        )));
    }
    if !compatible(&manifest.runtime.version, manifest.model.encoding) {
        return Err(Error::BundleVersion { bundle: manifest.runtime.version.clone(), runtime: RUNTIME_VERSION.into() });
    }
    if let (Some(runtime), Some(expected)) = (parts.runtime, &manifest.runtime.sha256) {
        let digest = keys::sha256_hex(runtime);
        if &digest != expected {
            return Err(Error::Integrity(format!(
                "the runtime code (SHA-256 {}) is not the one the bundle was built with ({})",
                &digest[..16],
                expected.get(..16).unwrap_or(expected)
            )));
        }
    }
    if parts.model.digest().is_none() {
        return Err(Error::Internal("the model section was neither passed nor hashed".into()));
    }
    check_section("model", manifest.model.size, &manifest.model.sha256, &parts.model)?;
    // A snapshot is code's state, so a section the manifest does not name is refused rather
    // than ignored.
    match (&manifest.snapshot, &parts.snapshot) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(Error::Integrity(format!(
                "the manifest names a snapshot, but the '{SNAPSHOT_SECTION}' section was removed"
            )));
        }
        (None, Some(_)) => {
            return Err(Error::Integrity(format!(
                "the bundle has a '{SNAPSHOT_SECTION}' section that its manifest does not name"
            )));
        }
        (Some(declared), Some(found)) => check_section("snapshot", declared.size, &declared.sha256, found)?,
    }
    Ok(manifest)
}

/// Checks that `signature` is `public_key`'s (SPKI PEM or 32 raw bytes) over `manifest`. It
/// covers the manifest, which holds every other section's digest, so it is cheap to check
/// again whenever a caller names a key, even for a bundle loaded earlier.
pub fn check_signature(manifest: &[u8], signature: Option<&[u8]>, public_key: &[u8]) -> Result<()> {
    let key = keys::verifying_key(public_key)?;
    let signature = signature.ok_or_else(|| {
        Error::Integrity(format!("the bundle is not signed, but a signature by key {} is required", keys::key_id(&key)))
    })?;
    keys::verify(&key, manifest, signature)
}

/// A section's size and digest against the manifest's. A section neither hashed nor passed
/// is held to its size only: the caller does not use it.
fn check_section(what: &str, size: u64, sha256: &str, found: &Section) -> Result<()> {
    let digest = found.digest();
    if found.size != size || digest.as_deref().is_some_and(|d| d != sha256) {
        return Err(Error::Integrity(format!(
            "the {what} ({} bytes, SHA-256 {}) does not match the manifest ({} bytes, SHA-256 {})",
            found.size,
            digest.as_deref().map_or("not computed", |d| d.get(..16).unwrap_or(d)),
            size,
            sha256.get(..16).unwrap_or(sha256)
        )));
    }
    Ok(())
}

/// The same major and minor version: the same operators with the same semantics.
fn compatible(bundle: &str, encoding: Encoding) -> bool {
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    match encoding {
        Encoding::Onnx => minor(bundle) == minor(RUNTIME_VERSION),
    }
}

/// What `edgeinfer build` is told.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub name: String,
    pub version: String,
    /// RFC 3339; the caller's clock (wasm has none).
    pub created: String,
    /// Feature names, overriding the model's `feature_names` metadata.
    pub features: Option<Vec<String>>,
    pub signing_key_pem: Option<String>,
    pub reference: Option<serde_json::Value>,
    /// The input guard loads apply unless they give their own.
    pub guard: Option<crate::monitor::guard::GuardOptions>,
    /// The model's loaded memory as the runtime made it (js/snapshot.js), stored with it.
    pub snapshot: Option<Vec<u8>>,
}

/// Makes a bundle: `runtime` (this runtime's wasm) with `onnx`'s model, manifest and
/// signature appended. The model is loaded first, so a bundle that would not load is never made.
pub fn build(runtime: &[u8], onnx: &[u8], options: &BuildOptions) -> Result<(Vec<u8>, Manifest)> {
    if !sections::is_wasm(runtime) {
        return Err(Error::InvalidOption("the runtime is not a WebAssembly module".into()));
    }
    if sections::custom_sections(runtime)
        .map_err(Error::InvalidOption)?
        .iter()
        .any(|(n, _, _)| n.starts_with("edgeinfer."))
    {
        return Err(Error::InvalidOption(
            "the runtime is already a bundle; build from the package's dist/edgeinfer_bg.wasm".into(),
        ));
    }
    let name_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok(&options.name) || !name_ok(&options.version) {
        return Err(Error::InvalidOption(format!(
            "name '{}' and version '{}' must be non-empty and use only letters, digits, '-', '_' and '.'",
            options.name, options.version
        )));
    }
    let signing_key = options.signing_key_pem.as_deref().map(keys::signing_key).transpose()?;
    let graph = parse_onnx(onnx, &LoadOptions::default())?;
    let metadata = graph.metadata.clone();
    let (encoding, payload) = (Encoding::Onnx, onnx);
    let model = Model::from_graph(graph, &LoadOptions::default())?;
    if options.guard.is_some() {
        // The guard as a load will make it, so that a bundle that cannot load is not built.
        let monitoring = crate::monitor::MonitorOptions {
            reference: options.reference.clone().map(crate::monitor::Reference::from_value).transpose()?,
            features: options.features.clone(),
            guard: options.guard,
            ..Default::default()
        };
        let inputs: Vec<_> = model.inputs().cloned().collect();
        crate::monitor::Monitor::new(&inputs, model.outputs(), &metadata, monitoring)?;
    }
    let meta = |k: &str| metadata.iter().find(|(key, _)| key == k).map(|(_, v)| split_list(v));
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        name: options.name.clone(),
        version: options.version.clone(),
        created: options.created.clone(),
        runtime: Runtime {
            name: "edgeinfer".into(),
            version: RUNTIME_VERSION.into(),
            sha256: Some(keys::sha256_hex(runtime)),
        },
        model: Payload {
            encoding,
            sha256: keys::sha256_hex(payload),
            size: payload.len() as u64,
            source_sha256: keys::sha256_hex(onnx),
            model_signing_sha256: Some(keys::model_signing_digest(onnx)),
        },
        inputs: model.inputs().map(TensorSchema::from).collect(),
        outputs: model.outputs().iter().map(TensorSchema::from).collect(),
        features: options.features.clone().or_else(|| meta("feature_names")),
        labels: class_labels(onnx).or_else(|| meta("class_labels")),
        metadata: metadata.into_iter().collect(),
        signer: signing_key
            .as_ref()
            .map(|k| Signer { algorithm: "Ed25519".into(), key_id: keys::key_id(&k.verifying_key()) }),
        reference: options.reference.clone(),
        guard: options.guard,
        snapshot: options
            .snapshot
            .as_ref()
            .map(|s| manifest::Digest { size: s.len() as u64, sha256: keys::sha256_hex(s) }),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    let mut out = runtime.to_vec();
    sections::append_custom_section(&mut out, MANIFEST_SECTION, &manifest_bytes).map_err(Error::InvalidOption)?;
    sections::append_custom_section(&mut out, MODEL_SECTION, payload).map_err(Error::InvalidOption)?;
    if let Some(key) = &signing_key {
        sections::append_custom_section(&mut out, SIGNATURE_SECTION, &keys::sign(key, &manifest_bytes))
            .map_err(Error::InvalidOption)?;
    }
    if let Some(snapshot) = &options.snapshot {
        sections::append_custom_section(&mut out, SNAPSHOT_SECTION, snapshot).map_err(Error::InvalidOption)?;
    }
    Ok((out, manifest))
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// The class labels a classifier in the graph declares (the first one found).
fn class_labels(onnx: &[u8]) -> Option<Vec<String>> {
    let proto = crate::ops::framework().proto_model_for_read(&mut &onnx[..]).ok()?;
    proto.graph.as_ref()?.node.iter().find_map(|node| {
        node.attribute.iter().find_map(|a| match a.name.as_str() {
            "classlabels_strings" if !a.strings.is_empty() => {
                Some(a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
            }
            "classlabels_int64s" | "classlabels_ints" if !a.ints.is_empty() => {
                Some(a.ints.iter().map(i64::to_string).collect())
            }
            _ => None,
        })
    })
}
