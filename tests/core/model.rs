//! The core's contract, natively: loading, schemas, symbolic batch sizes, and every kind
//! of bad input refused with its code while the model stays usable.

use crate::common;

use edgeinfer::{DType, Dim, Feed, HostTensor, Limits, LoadOptions, Model, Values};

fn corpus_model(name: &str) -> Vec<u8> {
    std::fs::read(common::corpus_dir().join(format!("{name}.onnx"))).unwrap()
}

fn load(name: &str) -> Model {
    Model::load(&corpus_model(name), &LoadOptions::default()).unwrap()
}

fn feed(shape: &[usize], values: Values) -> Feed {
    Feed::new(HostTensor::new(shape.to_vec(), values))
}

fn mixed_feeds(batch: usize, count_batch: usize) -> Vec<(String, Feed)> {
    vec![
        ("amount".into(), feed(&[batch, 4], Values::Float32(vec![1.0; batch * 4]))),
        ("count".into(), feed(&[count_batch, 4], Values::Int64(vec![2; count_batch * 4]))),
        ("flag".into(), feed(&[batch, 4], Values::Bool(vec![true; batch * 4]))),
    ]
}

#[test]
fn schema_keeps_symbolic_dimensions() {
    let m = load("mixed_types");
    let inputs: Vec<_> = m.inputs().map(|i| (i.name.as_str(), i.dtype, i.shape.clone())).collect();
    let batch = Dim::Symbolic("batch".into());
    assert_eq!(
        inputs,
        vec![
            ("amount", DType::Float32, vec![batch.clone(), Dim::Fixed(4)]),
            ("count", DType::Int64, vec![batch.clone(), Dim::Fixed(4)]),
            ("flag", DType::Bool, vec![batch.clone(), Dim::Fixed(4)]),
        ]
    );
    assert_eq!(m.outputs()[2].signature(), "int64[batch]");
}

#[test]
fn unnamed_dimensions_become_symbols() {
    // skl2onnx declares [None, 10]: the batch dimension has no name.
    let m = load("sk_ridge_diabetes");
    let x = m.inputs().next().unwrap();
    assert!(matches!(&x.shape[0], Dim::Symbolic(s) if s.contains("dim0")), "{:?}", x.shape);
    assert_eq!(x.shape[1], Dim::Fixed(10));
}

#[test]
fn a_symbol_must_agree_across_inputs() {
    let mut m = load("mixed_types");
    let e = m.predict(mixed_feeds(3, 2)).unwrap_err();
    assert_eq!(e.code(), "E_INPUT_SHAPE");
    let msg = e.to_string();
    assert!(msg.contains("'count'") && msg.contains("'batch'") && msg.contains("'amount' set 'batch' to 3"), "{msg}");
    let out = m.predict(mixed_feeds(3, 3)).unwrap();
    assert_eq!(out[2].1.shape, vec![3]);
}

#[test]
fn missing_unknown_and_mistyped_inputs_are_named() {
    let mut m = load("mixed_types");
    let mut feeds = mixed_feeds(1, 1);
    feeds.remove(1);
    let e = m.predict(feeds).unwrap_err();
    assert_eq!(e.code(), "E_INPUT_MISSING");
    assert!(e.to_string().contains("'count'") && e.to_string().contains("int64[batch,4]"), "{e}");

    let mut feeds = mixed_feeds(1, 1);
    feeds.push(("extra".into(), feed(&[1], Values::Float32(vec![0.0]))));
    let e = m.predict(feeds).unwrap_err();
    assert_eq!(e.code(), "E_INPUT_UNKNOWN");
    assert!(e.to_string().contains("'extra'") && e.to_string().contains("'amount'"), "{e}");

    let mut feeds = mixed_feeds(1, 1);
    feeds[0].1.dtype = Some(DType::Float64);
    let e = m.predict(feeds).unwrap_err();
    assert_eq!(e.code(), "E_INPUT_DTYPE");
    assert!(e.to_string().contains("expected float32, got dtype 'float64'"), "{e}");

    assert_eq!(m.predict(mixed_feeds(2, 2)).unwrap().len(), 3);
}

#[test]
fn shapes_are_checked_before_allocation() {
    let mut m = load("mlp_tabular");
    let cases: Vec<(Vec<usize>, &str)> = vec![
        (vec![31_250_000, 32], "needs 1000000000 values, got 32"),
        (vec![usize::MAX, 32], "has too many elements"),
        (vec![1, 31], "dimension 1 is 31, expected 32"),
        (vec![32], "rank 1, expected rank 2"),
    ];
    for (shape, expected) in cases {
        let e = m.predict(vec![("x".into(), feed(&shape, Values::Float32(vec![0.5; 32])))]).unwrap_err();
        assert_eq!(e.code(), "E_INPUT_SHAPE", "{shape:?}");
        assert!(e.to_string().contains(expected), "{shape:?}: {e}");
    }
    let ok = m.predict(vec![("x".into(), feed(&[1, 32], Values::Float32(vec![0.5; 32])))]).unwrap();
    assert_eq!(ok[0].1.shape, vec![1, 1]);
}

#[test]
fn limits_refuse_oversized_work() {
    let opts = LoadOptions { limits: Limits { max_input_elements: 64, ..Limits::default() }, ..Default::default() };
    let mut m = Model::load(&corpus_model("mlp_tabular"), &opts).unwrap();
    let e = m.predict(vec![("x".into(), feed(&[3, 32], Values::Float32(vec![0.0; 96])))]).unwrap_err();
    assert_eq!(e.code(), "E_RESOURCE_LIMIT");
    assert!(e.to_string().contains("maxInputElements"), "{e}");

    let mut r = load("recommender_topk");
    let users = 600_000;
    let e = r.predict(vec![("liked".into(), feed(&[users, 1], Values::Int64(vec![1; users])))]).unwrap_err();
    assert_eq!(e.code(), "E_RESOURCE_LIMIT");
    assert!(e.to_string().contains("GiB") && e.to_string().contains("maxTensorBytes"), "{e}");
    let ok = r.predict(vec![("liked".into(), feed(&[2, 1], Values::Int64(vec![1, 2])))]).unwrap();
    assert_eq!(ok[1].1.shape, vec![2, 10]);
}

/// A bundle's snapshot holds a model loaded with the default options; `configure` gives it
/// the caller's, which must then hold exactly as if it had been loaded with them.
#[test]
fn a_loaded_model_takes_new_limits() {
    let mut m = load("mlp_tabular");
    let small = feed(&[2, 32], Values::Float32(vec![0.5; 64]));
    let expected = m.predict(vec![("x".into(), small.clone())]).unwrap();
    let tight = Limits { max_input_elements: 64, ..Limits::default() };
    m.configure(&LoadOptions { limits: tight, max_specialized_plans: 0, ..Default::default() }).unwrap();
    let e = m.predict(vec![("x".into(), feed(&[3, 32], Values::Float32(vec![0.0; 96])))]).unwrap_err();
    assert!(e.code() == "E_RESOURCE_LIMIT" && e.to_string().contains("maxInputElements"), "{e}");
    for _ in 0..3 {
        assert_eq!(m.predict(vec![("x".into(), small.clone())]).unwrap(), expected);
    }
    // A limit the model's own fixed-size tensors exceed is refused, and the old one stays.
    let fixed = LoadOptions { input_shapes: vec![("x".into(), vec![1, 32])], ..Default::default() };
    let mut e = Model::load(&corpus_model("mlp_tabular"), &fixed).unwrap();
    let tiny = Limits { max_tensor_bytes: 16, ..Limits::default() };
    let refused = e.configure(&LoadOptions { limits: tiny, ..Default::default() }).unwrap_err();
    assert!(refused.code() == "E_RESOURCE_LIMIT" && refused.to_string().contains("the model itself"), "{refused}");
    assert_eq!(
        e.predict(vec![("x".into(), feed(&[1, 32], Values::Float32(vec![0.5; 32])))]).unwrap()[0].1.shape,
        vec![1, 1]
    );
    let pinned = LoadOptions { input_shapes: vec![("x".into(), vec![1, 32])], ..Default::default() };
    assert_eq!(m.configure(&pinned).unwrap_err().code(), "E_INVALID_OPTION");
}

#[test]
fn bad_bytes_never_panic() {
    let good = corpus_model("encoder_block");
    assert_eq!(Model::load(&[], &LoadOptions::default()).unwrap_err().code(), "E_MODEL_PARSE");
    for cut in (0..good.len()).step_by(997) {
        let e = Model::load(&good[..cut], &LoadOptions::default()).unwrap_err();
        assert!(["E_MODEL_PARSE", "E_MODEL_INVALID"].contains(&e.code()), "cut at {cut}: {e:?}");
    }
    let mut seed = 0x2545F491u32;
    for len in [1usize, 7, 64, 1000, 20000] {
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let e = Model::load(&junk, &LoadOptions::default()).unwrap_err();
        assert!(["E_MODEL_PARSE", "E_MODEL_INVALID"].contains(&e.code()), "{len} random bytes: {e:?}");
    }
}

#[test]
fn pinned_shapes_are_validated() {
    let bytes = corpus_model("mlp_tabular");
    let pin = |shape: Vec<usize>| LoadOptions { input_shapes: vec![("x".into(), shape)], ..Default::default() };
    let m = Model::load(&bytes, &pin(vec![8, 32])).unwrap();
    assert_eq!(m.inputs().next().unwrap().shape, vec![Dim::Fixed(8), Dim::Fixed(32)]);
    assert_eq!(Model::load(&bytes, &pin(vec![8, 31])).unwrap_err().code(), "E_INVALID_OPTION");
    let unknown = LoadOptions { input_shapes: vec![("y".into(), vec![1, 32])], ..Default::default() };
    assert_eq!(Model::load(&bytes, &unknown).unwrap_err().code(), "E_INVALID_OPTION");
}

#[test]
fn specialised_plans_give_the_symbolic_plans_results() {
    let bytes = corpus_model("encoder_block");
    let mut cached = Model::load(&bytes, &LoadOptions::default()).unwrap();
    let no_cache = LoadOptions { max_specialized_plans: 0, ..Default::default() };
    let mut symbolic = Model::load(&bytes, &no_cache).unwrap();
    // Six shapes cycled three times: more shapes than the cache holds, each seen repeatedly.
    for round in 0..3 {
        for (batch, seq) in [(1, 7), (2, 12), (1, 1), (3, 5), (1, 7), (4, 2)] {
            let n = batch * seq * 32;
            let values: Vec<f32> = (0..n).map(|i| ((i * 7 + round) % 13) as f32 / 13.0 - 0.5).collect();
            let feeds = || vec![("x".to_string(), feed(&[batch, seq, 32], Values::Float32(values.clone())))];
            let a = cached.predict(feeds()).unwrap();
            let b = symbolic.predict(feeds()).unwrap();
            assert_eq!(a[0].1.shape, vec![batch, seq, 32]);
            common::compare("y", &b[0].1, &a[0].1, 1e-5, 1e-6).unwrap();
        }
    }
}

#[test]
fn metadata_props_and_producer_are_kept() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/iris.onnx")).unwrap();
    let m = Model::load(&bytes, &LoadOptions::default()).unwrap();
    let get = |k: &str| m.metadata().iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("producer_name"), Some("edgeinfer-example"));
    assert_eq!(get("class_labels"), Some("setosa,versicolor,virginica"));
    assert_eq!(get("feature_names").map(|f| f.split(',').count()), Some(4));
}

/// The binding loads from bytes it owns, dropping them once decoded: the same model as from
/// borrowed bytes, and the same refusals.
#[test]
fn owned_bytes_load_as_borrowed_ones() {
    let opts = LoadOptions::default();
    for entry in std::fs::read_dir(common::corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (borrowed, owned) = (Model::load(&bytes, &opts).unwrap(), Model::load_owned(bytes, &opts).unwrap());
        assert_eq!(borrowed.inputs().collect::<Vec<_>>(), owned.inputs().collect::<Vec<_>>(), "{path:?}");
        assert_eq!(borrowed.outputs(), owned.outputs(), "{path:?}");
    }
    let (mut a, mut b) = (load("mlp_tabular"), Model::load_owned(corpus_model("mlp_tabular"), &opts).unwrap());
    let x = || vec![("x".into(), feed(&[2, 32], Values::Float32((0..64).map(|i| i as f32 / 64.0).collect())))];
    assert_eq!(a.predict(x()).unwrap(), b.predict(x()).unwrap());
    assert_eq!(Model::load_owned(Vec::new(), &opts).unwrap_err().code(), "E_MODEL_PARSE");
    let cut = corpus_model("encoder_block")[..5000].to_vec();
    assert_eq!(Model::load_owned(cut.clone(), &opts).unwrap_err().code(), Model::load(&cut, &opts).unwrap_err().code());
}
