//! Writes the seeds the fuzz targets start from that the test fixtures do not already give:
//! small bundles (plain, signed, with a reference) and the text inputs of `tables`. Run from
//! the repository: `cargo run -p edgeinfer-fuzz --bin make-seeds`.

use std::fs;

use edgeinfer::bundle::{BuildOptions, build};
use edgeinfer::monitor::{Reference, csv};

/// The smallest WebAssembly module: bundles built on it keep the seeds small, and the
/// loader's checks are the same as on the real runtime.
const RUNTIME: &[u8] = b"\0asm\x01\0\0\0";

const CSV: &str = "age,income,city,label\n31,52000.5,Paris,1\n47,,Lyon,0\n\"29\",1e5,\"Saint, Denis\",1\n";

fn main() {
    let write = |path: &str, bytes: &[u8]| {
        fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    };
    let columns = csv::columns(CSV, &["city".into()]).unwrap();
    let reference = Reference::from_columns(&columns).unwrap();
    let (private, _) = edgeinfer_fuzz::test_keypair();
    let base = BuildOptions {
        name: "seed".into(),
        version: "1".into(),
        created: "2026-12-06T00:00:00Z".into(),
        ..BuildOptions::default()
    };
    let bundles = [
        ("plain", "sk_ridge_diabetes", base.clone()),
        ("signed", "sk_logreg_breast_cancer", BuildOptions { signing_key_pem: Some(private.clone()), ..base.clone() }),
        (
            "reference",
            "mixed_types",
            BuildOptions {
                signing_key_pem: Some(private),
                reference: Some(serde_json::from_str(&reference.to_json()).unwrap()),
                ..base
            },
        ),
    ];
    for (name, model, options) in bundles {
        let onnx = fs::read(format!("tests/fixtures/corpus/{model}.onnx")).unwrap();
        let (bytes, _) = build(RUNTIME, &onnx, &options).unwrap();
        write(&format!("fuzz/seeds/bundle/{name}.wasm"), &bytes);
    }
    // `tables` reads its first byte as the mode: 0 a feature matrix, 1 reference columns,
    // 2 a reference's JSON.
    write("fuzz/seeds/tables/floats.csv", &[b"\x3c", CSV.as_bytes()].concat());
    write("fuzz/seeds/tables/columns.csv", &[b"\x01", CSV.as_bytes()].concat());
    write("fuzz/seeds/tables/reference.json", &[b"\x02", reference.to_json().as_bytes()].concat());
}
