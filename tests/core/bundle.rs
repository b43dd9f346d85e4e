//! Bundles natively: every corpus model built into a bundle loads and predicts exactly as the
//! raw model does; every kind of tampering is refused with E_INTEGRITY before anything runs.

use crate::common;

use edgeinfer::bundle::keys::keypair_from_seed;
use edgeinfer::bundle::manifest::{Encoding, Manifest};
use edgeinfer::bundle::{self, BuildOptions};
use edgeinfer::{Feed, LoadOptions, Model};

/// A stand-in for the runtime's wasm: the smallest valid module plus a type section.
fn runtime() -> Vec<u8> {
    b"\0asm\x01\0\0\0\x01\x01\0".to_vec()
}

fn keys(seed: u8) -> (String, String) {
    keypair_from_seed(&[seed; 32]).unwrap()
}

fn options(name: &str, key: Option<&str>) -> BuildOptions {
    BuildOptions {
        name: name.into(),
        version: "3".into(),
        created: "2026-11-25T12:00:00Z".into(),
        signing_key_pem: key.map(str::to_string),
        ..Default::default()
    }
}

fn with_key(public: &str) -> LoadOptions {
    LoadOptions { public_key: Some(public.as_bytes().to_vec()), ..Default::default() }
}

fn model(name: &str) -> Vec<u8> {
    std::fs::read(common::corpus_dir().join(format!("{name}.onnx"))).unwrap()
}

#[test]
fn every_corpus_case_predicts_the_same_from_a_bundle() {
    let (private, public) = keys(1);
    let mut built = std::collections::HashMap::new();
    for case in &common::cases() {
        let stem = case.name.split('#').next().unwrap().to_string();
        let bundle = built
            .entry(stem.clone())
            .or_insert_with(|| bundle::build(&runtime(), &case.model, &options(&stem, Some(&private))).unwrap().0);
        let feeds = || case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect::<Vec<_>>();
        let mut from_bundle = Model::load(bundle, &with_key(&public)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let mut raw = Model::load(&case.model, &LoadOptions::default()).unwrap();
        let a = from_bundle.predict(feeds()).unwrap();
        let b = raw.predict(feeds()).unwrap();
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            common::compare(name, y, x, 1e-6, 1e-7).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let expected = &case.outputs.iter().find(|(n, _)| n == name).unwrap().1;
            common::compare(name, expected, x, case.rtol, case.atol).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        }
        assert_eq!(from_bundle.inputs().collect::<Vec<_>>(), raw.inputs().collect::<Vec<_>>(), "{}", case.name);
    }
    assert!(built.len() >= 8, "{} models", built.len());
}

fn manifest_of(bundle: &[u8]) -> Manifest {
    serde_json::from_slice(bundle::parts(bundle).unwrap().manifest).unwrap()
}

#[test]
fn the_manifest_describes_the_model() {
    let (private, public) = keys(2);
    let (bytes, manifest) =
        bundle::build(&runtime(), &model("encoder_block"), &options("enc", Some(&private))).unwrap();
    assert_eq!(manifest_of(&bytes), manifest);
    assert_eq!(manifest.name, "enc");
    assert_eq!(manifest.version, "3");
    assert_eq!(manifest.model.encoding, Encoding::Onnx);
    assert_eq!(manifest.model.sha256, manifest.model.source_sha256, "the ONNX file is stored as it is");
    assert_eq!(manifest.inputs[0].name, "x");
    assert_eq!(
        manifest.inputs[0].shape,
        vec![serde_json::json!("batch"), serde_json::json!("seq"), serde_json::json!(32)]
    );
    assert_eq!(manifest.runtime.version, env!("CARGO_PKG_VERSION"));
    let signer = manifest.signer.unwrap();
    assert_eq!(signer.algorithm, "Ed25519");
    let public = edgeinfer::bundle::keys::verifying_key(public.as_bytes()).unwrap();
    assert_eq!(signer.key_id, edgeinfer::bundle::keys::key_id(&public));

    let iris = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/iris.onnx")).unwrap();
    let (_, m) = bundle::build(&runtime(), &iris, &options("iris", None)).unwrap();
    assert_eq!(m.labels.unwrap(), ["setosa", "versicolor", "virginica"]);
    assert_eq!(m.features.unwrap().len(), 4);
    assert!(m.signer.is_none());
}

#[test]
fn classifier_labels_come_from_the_graph() {
    let ml = common::corpus_dir().join("sk_logreg_breast_cancer.onnx");
    let (bytes, manifest) = bundle::build(&runtime(), &std::fs::read(ml).unwrap(), &options("lr", None)).unwrap();
    assert_eq!(manifest.labels.as_deref(), Some(&["0".to_string(), "1".to_string()][..]));
    Model::load(&bytes, &LoadOptions::default()).unwrap();
}

/// Replaces the `index`th section named `name` by `payload`, rebuilding the module.
fn with_section(bundle: &[u8], name: &str, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let parts = bundle::parts(bundle).unwrap();
    let mut out = parts.runtime.unwrap().to_vec();
    for (section, payload) in [
        (bundle::MANIFEST_SECTION, Some(parts.manifest)),
        (bundle::MODEL_SECTION, parts.model.bytes),
        (bundle::SIGNATURE_SECTION, parts.signature),
        (bundle::SNAPSHOT_SECTION, parts.snapshot.as_ref().and_then(|s| s.bytes)),
    ] {
        let Some(payload) = payload else {
            if section == name {
                append(&mut out, section, b"not declared");
            }
            continue;
        };
        let mut p = payload.to_vec();
        if section == name {
            edit(&mut p);
            if p.is_empty() {
                continue;
            }
        }
        append(&mut out, section, &p);
    }
    out
}

fn append(module: &mut Vec<u8>, name: &str, payload: &[u8]) {
    fn leb(out: &mut Vec<u8>, mut v: usize) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    module.push(0);
    leb(module, body.len());
    module.extend_from_slice(&body);
}

fn refused(bytes: &[u8], options: &LoadOptions, code: &str, message: &str) {
    let e = Model::load(bytes, options).unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(message), "expected '{message}' in: {e}");
}

#[test]
fn a_flipped_byte_anywhere_is_refused() {
    let (private, public) = keys(3);
    let (good, _) = bundle::build(&runtime(), &model("mlp_tabular"), &options("mlp", Some(&private))).unwrap();
    Model::load(&good, &with_key(&public)).unwrap();
    let parts = bundle::parts(&good).unwrap();
    let (m, s) = (parts.manifest.len(), parts.model.size as usize);
    for (section, len) in [(bundle::MANIFEST_SECTION, m), (bundle::MODEL_SECTION, s), (bundle::SIGNATURE_SECTION, 64)] {
        for at in [0, len / 2, len - 1] {
            let tampered = with_section(&good, section, |p| p[at] ^= 0x01);
            let e = Model::load(&tampered, &with_key(&public)).unwrap_err();
            assert_eq!(e.code(), "E_INTEGRITY", "{section}[{at}]: {e}");
        }
    }
    // The model's digest is checked even without a key.
    let tampered = with_section(&good, bundle::MODEL_SECTION, |p| p[s / 3] ^= 0x80);
    refused(&tampered, &LoadOptions::default(), "E_INTEGRITY", "does not match the manifest");
    // So is the runtime's code.
    let mut code = good.clone();
    code[10] ^= 0x01; // the type section's count: the framing stays valid
    refused(&code, &LoadOptions::default(), "E_INTEGRITY", "runtime code");
}

/// Natively there is no instance to restore a snapshot into, so its checks are tested here
/// with stand-in bytes, and the restore in tests/js/bundle-snapshot.test.mjs.
#[test]
fn a_snapshot_is_held_to_the_manifest() {
    let (private, public) = keys(6);
    let memory: Vec<u8> = (0..=255).cycle().take(4000).collect();
    let build = BuildOptions { snapshot: Some(memory.clone()), ..options("mlp", Some(&private)) };
    let (good, manifest) = bundle::build(&runtime(), &model("mlp_tabular"), &build).unwrap();
    let declared = manifest.snapshot.clone().unwrap();
    assert_eq!(
        (declared.size, declared.sha256.as_str()),
        (4000, edgeinfer::bundle::keys::sha256_hex(&memory).as_str())
    );
    assert_eq!(bundle::parts(&good).unwrap().snapshot.and_then(|s| s.bytes), Some(&memory[..]));
    Model::load(&good, &with_key(&public)).unwrap();
    for at in [0, 1999, 3999] {
        let tampered = with_section(&good, bundle::SNAPSHOT_SECTION, |p| p[at] ^= 0x01);
        refused(&tampered, &with_key(&public), "E_INTEGRITY", "the snapshot (4000 bytes");
    }
    let removed = with_section(&good, bundle::SNAPSHOT_SECTION, |p| p.clear());
    refused(&removed, &LoadOptions::default(), "E_INTEGRITY", "section was removed");
    let (plain, _) = bundle::build(&runtime(), &model("mlp_tabular"), &options("mlp", None)).unwrap();
    let added = with_section(&plain, bundle::SNAPSHOT_SECTION, |_| ());
    refused(&added, &LoadOptions::default(), "E_INTEGRITY", "does not name");
    // What JS passes from a compiled module: the platform's digest, or only the size.
    let (upper, other) = (declared.sha256.to_uppercase(), edgeinfer::bundle::keys::sha256_hex(b"other memory"));
    let parts = |size, sha256| bundle::Parts {
        snapshot: Some(bundle::Section { size, bytes: None, sha256 }),
        ..bundle::parts(&good).unwrap()
    };
    let check = |size, sha256| bundle::check(&parts(size, sha256), &LoadOptions::default());
    check(4000, Some(&upper)).unwrap();
    check(4000, None).unwrap();
    for (size, sha256) in [(4000, Some(other.as_str())), (3999, None)] {
        let e = check(size, sha256).unwrap_err();
        assert_eq!(e.code(), "E_INTEGRITY", "{e}");
        assert!(
            e.to_string().contains("the snapshot (") && e.to_string().contains("does not match the manifest"),
            "{e}"
        );
    }
}

#[test]
fn a_digest_from_the_host_is_held_to_the_manifest() {
    let (good, manifest) = bundle::build(&runtime(), &model("mlp_tabular"), &options("mlp", None)).unwrap();
    let parts = bundle::parts(&good).unwrap();
    let load = |digest: &str| {
        let model = bundle::Section { sha256: Some(digest), ..bundle::parts(&good).unwrap().model };
        Model::load_bundle(&bundle::Parts { model, ..bundle::parts(&good).unwrap() }, &LoadOptions::default())
    };
    load(&manifest.model.sha256).unwrap();
    load(&manifest.model.sha256.to_uppercase()).unwrap();
    // The digest of other bytes, one too short to print in full, and none at all.
    let other = edgeinfer::bundle::keys::sha256_hex(b"another model");
    for digest in [other.as_str(), "abc", ""] {
        let e = load(digest).unwrap_err();
        assert_eq!(e.code(), "E_INTEGRITY", "{digest}: {e}");
        assert!(e.to_string().contains("does not match the manifest"), "{e}");
    }
    assert_eq!(parts.model.sha256, None);
    // Restoring a snapshot passes the model's size and digest without its bytes; neither is refused.
    let unpassed = |sha256| bundle::Parts {
        model: bundle::Section { bytes: None, sha256, ..parts.model },
        ..bundle::parts(&good).unwrap()
    };
    bundle::check(&unpassed(Some(&manifest.model.sha256)), &LoadOptions::default()).unwrap();
    assert_eq!(bundle::check(&unpassed(None), &LoadOptions::default()).unwrap_err().code(), "E_INTERNAL");
}

#[test]
fn keys_and_signatures_must_match() {
    let (private, public) = keys(4);
    let (_, other_public) = keys(5);
    let (signed, _) = bundle::build(&runtime(), &model("mlp_tabular"), &options("mlp", Some(&private))).unwrap();
    refused(&signed, &with_key(&other_public), "E_INTEGRITY", "signature does not match");
    let (unsigned, _) = bundle::build(&runtime(), &model("mlp_tabular"), &options("mlp", None)).unwrap();
    refused(&unsigned, &with_key(&public), "E_INTEGRITY", "not signed");
    Model::load(&unsigned, &LoadOptions::default()).unwrap();
    let stripped = with_section(&signed, bundle::SIGNATURE_SECTION, |p| p.clear());
    refused(&stripped, &with_key(&public), "E_INTEGRITY", "not signed");
    let no_model = with_section(&signed, bundle::MODEL_SECTION, |p| p.clear());
    refused(&no_model, &LoadOptions::default(), "E_INTEGRITY", "no 'edgeinfer.model' section");
    refused(&runtime(), &LoadOptions::default(), "E_INTEGRITY", "not an edgeinfer bundle");
    let bad_key = LoadOptions { public_key: Some(b"not a key".to_vec()), ..Default::default() };
    refused(&signed, &bad_key, "E_INVALID_OPTION", "SPKI PEM");
}

#[test]
fn a_bundle_from_another_runtime_version_is_refused() {
    let (private, public) = keys(6);
    let (good, manifest) = bundle::build(&runtime(), &model("mlp_tabular"), &options("mlp", Some(&private))).unwrap();
    let mut other = manifest.clone();
    other.runtime.version = "9.9.0".into();
    let manifest_bytes = serde_json::to_vec(&other).unwrap();
    let key = edgeinfer::bundle::keys::signing_key(&private).unwrap();
    let resigned = with_section(
        &with_section(&good, bundle::MANIFEST_SECTION, |p| *p = manifest_bytes.clone()),
        bundle::SIGNATURE_SECTION,
        |p| *p = edgeinfer::bundle::keys::sign(&key, &manifest_bytes).to_vec(),
    );
    refused(&resigned, &with_key(&public), "E_BUNDLE_VERSION", "9.9.0");
}

#[test]
fn building_refuses_bad_requests() {
    let mlp = model("mlp_tabular");
    let e = bundle::build(b"not wasm", &mlp, &options("m", None)).unwrap_err();
    assert_eq!(e.code(), "E_INVALID_OPTION");
    let (built, _) = bundle::build(&runtime(), &mlp, &options("m", None)).unwrap();
    assert!(bundle::build(&built, &mlp, &options("m", None)).unwrap_err().to_string().contains("already a bundle"));
    assert_eq!(bundle::build(&runtime(), &mlp, &options("bad name", None)).unwrap_err().code(), "E_INVALID_OPTION");
    assert_eq!(bundle::build(&runtime(), b"junk", &options("m", None)).unwrap_err().code(), "E_MODEL_PARSE");
    let e =
        bundle::build(&runtime(), &mlp, &BuildOptions { signing_key_pem: Some("nope".into()), ..options("m", None) })
            .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_OPTION");
}

#[test]
fn a_bundle_carries_the_guard_it_was_built_with_when_it_can_load() {
    use edgeinfer::monitor::guard::{GuardMode, GuardOptions};
    use edgeinfer::monitor::{Column, Reference};
    let mlp = model("mlp_tabular");
    let guard = GuardOptions { mode: GuardMode::Refuse, margin: 0.25, ..GuardOptions::default() };
    let e = bundle::build(&runtime(), &mlp, &BuildOptions { guard: Some(guard), ..options("m", None) }).unwrap_err();
    assert!(e.to_string().contains("guard checks inputs against reference statistics"), "{e}");
    let columns: Vec<(String, Column)> =
        (0..32).map(|i| (format!("x[{i}]"), Column::Numeric(vec![0.0, 1.0, i as f64]))).collect();
    let reference: serde_json::Value =
        serde_json::from_str(&Reference::from_columns(&columns).unwrap().to_json()).unwrap();
    let negative = GuardOptions { margin: -1.0, ..guard };
    let build = |guard| BuildOptions { guard: Some(guard), reference: Some(reference.clone()), ..options("m", None) };
    let e = bundle::build(&runtime(), &mlp, &build(negative)).unwrap_err();
    assert!(e.to_string().contains("guard.margin"), "{e}");
    let (bytes, _) = bundle::build(&runtime(), &mlp, &build(guard)).unwrap();
    let manifest = bundle::check(&bundle::parts(&bytes).unwrap(), &LoadOptions::default()).unwrap();
    assert_eq!(manifest.guard, Some(guard));
    let json = serde_json::to_value(&manifest).unwrap();
    assert_eq!(json["guard"], serde_json::json!({ "mode": "refuse", "margin": 0.25, "missing": "reference" }));
}

#[test]
fn pinned_shapes_work_on_bundles() {
    let (bytes, _) = bundle::build(&runtime(), &model("encoder_block"), &options("enc", None)).unwrap();
    let pinned = LoadOptions { input_shapes: vec![("x".into(), vec![1, 7, 32])], ..Default::default() };
    let model = Model::load(&bytes, &pinned).unwrap();
    assert_eq!(model.inputs().next().unwrap().signature(), "float32[1,7,32]");
    let bad = LoadOptions { input_shapes: vec![("x".into(), vec![1, 7, 31])], ..Default::default() };
    assert_eq!(Model::load(&bytes, &bad).unwrap_err().code(), "E_INVALID_OPTION");
}

#[test]
fn the_manifest_names_the_model_signing_subject_of_its_source() {
    // The subject `model_signing sign key` (model-signing 1.1.1) wrote for this file; the
    // interop both ways is tested in tests/js/model-signing.test.mjs.
    let onnx = model("sk_ridge_diabetes");
    let subject = "4b43a4a809483068166823b3f9c818bcbe98643548d3287ab9d6c7047430d6b9";
    assert_eq!(bundle::keys::model_signing_digest(&onnx), subject);
    let (bytes, manifest) = bundle::build(&runtime(), &onnx, &options("ridge", None)).unwrap();
    assert_eq!(manifest.model.model_signing_sha256.as_deref(), Some(subject));
    assert_eq!(manifest_of(&bytes).model.model_signing_sha256.as_deref(), Some(subject));
}
