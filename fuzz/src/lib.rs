//! The fuzz targets' bodies (the binaries in fuzz_targets/ are one line each, so that
//! `tests/regressions.rs` runs every crash input kept in `regressions/` natively), and what
//! they share: the limits they load with, inputs to call a model with, and the one property
//! every target holds, that bad input is refused and never panics.
//!
//! libfuzzer-sys makes every panic abort, even one the engine would catch; `model` and
//! `bundle` put std's printing hook back, because reading a model file turns tract's panics
//! into `E_MODEL_INVALID` by design (`edgeinfer::error::guard_as`). What must not happen is
//! an `E_INTERNAL`: `refused` fails the run on one, and a panic nothing catches still aborts
//! (libfuzzer-sys catches the unwind).

use std::sync::{LazyLock, Mutex, Once};

use arbitrary::Arbitrary;
use edgeinfer::monitor::guard::{GuardMode, GuardOptions};
use edgeinfer::monitor::{ManualHost, MonitorOptions, MonitoredModel, Reference, csv};
use edgeinfer::table::read_float_rows;
use edgeinfer::{DType, Dim, Error, Feed, HostTensor, Limits, LoadOptions, Model, Result, Values};

/// Loading options with limits small enough that libFuzzer's memory cap (2 GB) is never the
/// one to refuse: the engine's own limits must catch what is too large.
pub fn options() -> LoadOptions {
    LoadOptions {
        limits: Limits {
            max_input_elements: 1 << 20,
            max_tensor_bytes: 64 << 20,
            max_model_bytes: 4 << 20,
            max_nodes: 10_000,
            max_graph_depth: 8,
        },
        ..LoadOptions::default()
    }
}

/// Fails the run when an error is an internal one: a refusal must say what was wrong.
pub fn refused<T>(result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(Error::Internal(message)) => panic!("E_INTERNAL where a refusal was due: {message}"),
        Err(_) => None,
    }
}

/// One input per declared input, each of its declared type and of its declared shape with 2
/// for every symbolic dimension, filled with zeros (or "0" for strings); `None` when a
/// declared shape is larger than a fuzz run should allocate.
pub fn zero_feeds(model: &Model) -> Option<Vec<(String, Feed)>> {
    model
        .inputs()
        .map(|input| {
            let shape: Vec<usize> = input.shape.iter().map(|d| if let Dim::Fixed(n) = d { *n } else { 2 }).collect();
            let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n <= 1 << 16)?;
            let values = if input.dtype == DType::String {
                Values::String(vec!["0".into(); count])
            } else {
                Values::Numbers(vec![0.0; count])
            };
            Some((input.name.clone(), Feed::new(HostTensor::new(shape, values))))
        })
        .collect()
}

/// Loads `bytes` as a model (or bundle) and, if it loads, predicts with zeros, lets it
/// specialise a plan and predicts again: the paths a real caller takes.
fn load_and_predict(bytes: &[u8], options: &LoadOptions) {
    static PRINTING_HOOK: Once = Once::new();
    PRINTING_HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    let Some(mut model) = refused(Model::load(bytes, options)) else { return };
    let Some(feeds) = zero_feeds(&model) else { return };
    for _ in 0..2 {
        refused(model.predict(feeds.clone()));
        while model.specialize_next() {}
    }
}

/// `model`: an ONNX file, through the load screen, tract's optimisation and our rewrites, to
/// two predictions with zeros of the declared shapes.
pub fn model(bytes: &[u8]) {
    load_and_predict(bytes, &options());
}

static PUBLIC_KEY: LazyLock<Vec<u8>> = LazyLock::new(|| test_keypair().1.into_bytes());

/// `bundle`: a bundle file's custom sections, manifest, digests and signature, and then the
/// model it carries. Signed seeds let mutations reach the checks after the signature.
pub fn bundle(bytes: &[u8]) {
    if let Some(parts) = refused(edgeinfer::bundle::parts(bytes)) {
        let signed = LoadOptions { public_key: Some(PUBLIC_KEY.clone()), ..options() };
        refused(edgeinfer::bundle::check(&parts, &signed));
    }
    load_and_predict(bytes, &options());
}

/// The key the seed bundles are signed with, so that mutated bundles reach the checks past
/// the signature: a fixed test key, never one that signs anything real.
pub fn test_keypair() -> (String, String) {
    edgeinfer::bundle::keys::keypair_from_seed(&[7; 32]).expect("a 32-byte seed")
}

/// Float, integer, half, string, mixed and value inputs; a ZipMap and a recurrent network.
const MODELS: [&[u8]; 8] = [
    include_bytes!("../../tests/fixtures/corpus/mlp_tabular.onnx"),
    include_bytes!("../../tests/fixtures/corpus/mixed_types.onnx"),
    include_bytes!("../../tests/fixtures/corpus/int32_ops.onnx"),
    include_bytes!("../../tests/fixtures/corpus/half_precision.onnx"),
    include_bytes!("../../tests/fixtures/corpus/sk_onehot_fraud.onnx"),
    include_bytes!("../../tests/fixtures/corpus/recommender_topk.onnx"),
    include_bytes!("../../tests/fixtures/corpus/lstm.onnx"),
    include_bytes!("../../tests/fixtures/trees/random_forest_classifier_zipmap_wine.onnx"),
];

/// Each fixture's input guard, in turn: every mode writes or reads the feeds differently.
const GUARDS: [GuardMode; 3] = [GuardMode::Clip, GuardMode::Refuse, GuardMode::Flag];

static LOADED: LazyLock<Vec<Mutex<MonitoredModel>>> = LazyLock::new(|| {
    MODELS.iter().enumerate().map(|(i, bytes)| Mutex::new(guarded(bytes, GUARDS[i % GUARDS.len()]))).collect()
});

/// A fixture, monitored and guarded against the reference of its zero feeds: every value but
/// 0 (or "0") is outside it, so the guard clips, refuses or flags nearly every call.
fn guarded(bytes: &[u8], mode: GuardMode) -> MonitoredModel {
    let load = || Model::load(bytes, &options()).expect("a fixture loads");
    let mut plain = MonitoredModel::new(load(), MonitorOptions::default()).expect("monitoring a fixture");
    let zeros = zero_feeds(plain.model()).expect("fixtures have small inputs");
    let reference = plain.build_reference(zeros).expect("a fixture's zeros make a reference");
    let monitoring = MonitorOptions {
        reference: Some(reference),
        guard: Some(GuardOptions { mode, margin: 0.0, ..GuardOptions::default() }),
        ..MonitorOptions::default()
    };
    MonitoredModel::new(load(), monitoring).expect("a fixture guarded by its own reference")
}

#[derive(Arbitrary, Debug)]
pub struct Call {
    pub model: u8,
    pub feeds: Vec<Input>,
    /// Specialise a plan for the shapes seen before calling.
    pub specialize: bool,
}

#[derive(Arbitrary, Debug)]
pub struct Input {
    /// One of the model's inputs by position, else this name.
    pub name: std::result::Result<u8, String>,
    /// The element type the caller says (`dtype` in JS), by position in `DType::ALL`.
    pub declared: Option<u8>,
    pub shape: Vec<u8>,
    pub data: Data,
}

#[derive(Arbitrary, Debug)]
pub enum Data {
    /// A typed array's bytes, as the binding stages them, of this element type.
    Bytes(u8, Vec<u8>),
    Numbers(Vec<f64>),
    BigInts(Vec<i64>),
    Strings(Vec<String>),
    Bools(Vec<bool>),
}

fn dtype(index: u8) -> DType {
    DType::ALL[index as usize % DType::ALL.len()]
}

/// `feeds`: inputs as callers give them (any names, element types, shapes and data, as the
/// binding receives them from JS) against models of every input kind, monitored and guarded,
/// which stay loaded across runs: a refused call must leave its model usable.
pub fn feeds(call: Call) {
    let mut monitored = LOADED[call.model as usize % MODELS.len()].lock().unwrap();
    let model = monitored.model_mut();
    let names: Vec<String> = model.inputs().map(|i| i.name.clone()).collect();
    let mut feeds = Vec::new();
    for input in call.feeds {
        let name = match input.name {
            Ok(i) => names[i as usize % names.len()].clone(),
            Err(name) => name,
        };
        let values = match input.data {
            Data::Bytes(t, bytes) => match Values::from_le_bytes(dtype(t), bytes) {
                Some(values) => values,
                None => continue,
            },
            Data::Numbers(v) => Values::Numbers(v),
            Data::BigInts(v) => Values::BigInts(v.into_iter().map(i128::from).collect()),
            Data::Strings(v) => Values::String(v),
            Data::Bools(v) => Values::Bool(v),
        };
        let shape = input.shape.into_iter().map(usize::from).collect();
        let feed = Feed { dtype: input.declared.map(dtype), tensor: HostTensor::new(shape, values) };
        feeds.push((name, feed));
    }
    if call.specialize {
        model.specialize_next();
    }
    let zeros = zero_feeds(model).expect("fixtures have small inputs");
    let host = &mut ManualHost::new(1);
    refused(monitored.predict(host, || Ok(feeds)));
    // Whatever was refused, the model still answers a well-formed call.
    monitored.predict(host, || Ok(zeros)).expect("the model still predicts after a refused call");
}

/// `tables`: text users hand to batch scoring and monitoring: CSV read into a feature matrix,
/// CSV read into reference columns, and a reference's JSON.
pub fn tables(bytes: &[u8]) {
    let Some((&mode, rest)) = bytes.split_first() else { return };
    match mode % 3 {
        // The header line names the columns; the mode's other bits pick features and kept
        // columns among them, as the JS side maps them before calling.
        0 => {
            let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let header: Vec<String> = String::from_utf8_lossy(&rest[..split]).split(',').map(str::to_string).collect();
            let columns: Vec<usize> = (0..header.len()).filter(|i| (mode >> 2) & (1 << (i % 6)) != 0).collect();
            let kept: Vec<usize> = (0..header.len()).filter(|i| i % 3 == usize::from(mode >> 7)).collect();
            read_float_rows(rest.get(split + 1..).unwrap_or_default(), &header, &columns, &kept, 2);
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let categorical = ["city".to_string(), "0".to_string()];
                if let Some(columns) = refused(csv::columns(text, &categorical)) {
                    refused(Reference::from_columns(&columns));
                }
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest)
                && let Some(reference) = refused(Reference::from_json(text))
            {
                refused(Reference::from_json(&reference.to_json())).expect("a reference reads back its JSON");
            }
        }
    }
}
