//! Operators against onnxruntime: every fixture of tests/fixtures/ml and tests/fixtures/trees
//! (the ai.onnx.ml operators, made by scripts/make_ml_fixtures.py and make_tree_fixtures.py
//! from scikit-learn and LightGBM models on real data) and tests/fixtures/indices (the
//! operators that index with a fed tensor, scripts/make_index_fixtures.py), tests/fixtures/folds
//! (BatchNormalization after Conv, which the loader folds; scripts/make_fold_fixtures.py), the shared
//! corpus's classical-ML cases, malformed attributes refused at load and bad inputs refused
//! at run time, each with its code.

use crate::common;

use std::path::PathBuf;

use edgeinfer::{DType, Dim, Feed, HostTensor, LoadOptions, MapKeys, Model, Values};
use serde_json::Value;

const FIXTURES: [&str; 4] = ["ml", "trees", "indices", "folds"];

fn fixtures_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind)
}

fn run_case(case: &common::Case) -> Result<(), String> {
    let mut model = Model::load(&case.model, &LoadOptions::default()).map_err(|e| format!("load: {} {e}", e.code()))?;
    let out = model
        .predict(case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect())
        .map_err(|e| format!("predict: {} {e}", e.code()))?;
    if out.len() != case.outputs.len() {
        return Err(format!("{} outputs, expected {}", out.len(), case.outputs.len()));
    }
    for (name, expected) in &case.outputs {
        let (_, actual) = out.iter().find(|(n, _)| n == name).ok_or_else(|| format!("output {name} missing"))?;
        common::compare(name, expected, actual, case.rtol, case.atol)?;
    }
    Ok(())
}

fn run_all(cases: &[common::Case]) -> Vec<String> {
    cases.iter().filter_map(|c| run_case(c).err().map(|why| format!("{}: {why}", c.name))).collect()
}

fn every_fixture_in(kind: &str, at_least: usize) {
    let cases = common::cases_in(&fixtures_dir(kind));
    assert!(cases.len() >= at_least, "expected the full fixture set, found {} cases", cases.len());
    let failures = run_all(&cases);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn every_fixture_matches_onnxruntime() {
    every_fixture_in("ml", 130);
}

#[test]
fn every_tree_fixture_matches_onnxruntime() {
    every_fixture_in("trees", 90);
}

#[test]
fn every_index_fixture_matches_onnxruntime() {
    every_fixture_in("indices", 9);
}

#[test]
fn every_fold_fixture_matches_onnxruntime() {
    every_fixture_in("folds", 7);
}

#[test]
fn fixtures_cover_every_operator() {
    let mut ops = std::collections::BTreeSet::new();
    for case in FIXTURES.iter().flat_map(|kind| common::cases_in(&fixtures_dir(kind))) {
        let model = String::from_utf8_lossy(&case.model).into_owned();
        for op in [
            "ArrayFeatureExtractor",
            "Binarizer",
            "CategoryMapper",
            "FeatureVectorizer",
            "Imputer",
            "LabelEncoder",
            "LinearClassifier",
            "LinearRegressor",
            "Normalizer",
            "OneHotEncoder",
            "Scaler",
            "SVMClassifier",
            "SVMRegressor",
            "TreeEnsembleClassifier",
            "TreeEnsembleRegressor",
            "ZipMap",
        ] {
            if model.contains(op) {
                ops.insert(op);
            }
        }
        // TreeEnsemble (ai.onnx.ml 5) is the only one with leaf_* attributes.
        if model.contains("TreeEnsemble") && model.contains("leaf_weights") {
            ops.insert("TreeEnsemble");
        }
    }
    assert_eq!(ops.len(), 17, "{ops:?}");
}

#[test]
fn shared_corpus_cases_of_these_operators_match_onnxruntime() {
    let cases: Vec<_> =
        common::cases().into_iter().filter(|c| c.name.starts_with("sk_") || c.name.starts_with("lgbm_")).collect();
    assert!(cases.len() >= 10, "the scikit-learn and LightGBM cases: {}", cases.len());
    let failures = run_all(&cases);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `name` of every fixture directory, each entry with the directory it came from.
fn read_json(name: &str) -> Vec<(PathBuf, Value)> {
    let mut all = Vec::new();
    for kind in FIXTURES {
        let dir = fixtures_dir(kind);
        let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        all.extend(items.into_iter().map(|v| (dir.clone(), v)));
    }
    all
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn malformed_attributes_are_refused_at_load_naming_operator_node_and_attribute() {
    let bad = read_json("bad_models.json");
    assert!(bad.len() >= 60, "{}", bad.len());
    let mut failures = Vec::new();
    for (dir, case) in &bad {
        let file = case["model"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        match Model::load(&bytes, &LoadOptions::default()) {
            Ok(_) => failures.push(format!("{file}: loaded")),
            Err(e) => failures.extend(refusal_problems(file, &e, case)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What is wrong with the refusal `e` of `what`, against the case's expected code and message parts.
fn refusal_problems(what: &str, e: &edgeinfer::Error, case: &Value) -> Vec<String> {
    let msg = e.to_string();
    let mut problems = Vec::new();
    if e.code() != case["code"].as_str().unwrap() {
        problems.push(format!("{what}: {} {msg}", e.code()));
    }
    for part in strings(&case["contains"]) {
        if !msg.contains(&part) {
            problems.push(format!("{what}: message lacks '{part}': {msg}"));
        }
    }
    problems
}

#[test]
fn bad_inputs_are_refused_at_run_time_and_the_model_stays_usable() {
    let bad = read_json("bad_inputs.json");
    assert_eq!(bad.len(), 15);
    let mut failures = Vec::new();
    for (dir, case) in &bad {
        let name = case["name"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(case["model"].as_str().unwrap())).unwrap();
        let mut model = Model::load(&bytes, &LoadOptions::default()).unwrap();
        let feeds: Vec<(String, Feed)> = case["inputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, t)| (k.clone(), Feed::new(common::decode(t))))
            .collect();
        for attempt in 0..2 {
            match model.predict(feeds.clone()) {
                Ok(_) => failures.push(format!("{name}: accepted (attempt {attempt})")),
                Err(e) => failures.extend(refusal_problems(name, &e, case)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_zipmap_output_is_a_map_of_batch_shape_and_refused_as_an_input_dtype() {
    let bytes = std::fs::read(fixtures_dir("ml").join("zipmap_strings_wine.onnx")).unwrap();
    let mut model = Model::load(&bytes, &LoadOptions::default()).unwrap();
    let probs = model.outputs().iter().find(|o| o.dtype == DType::Map).expect("a map output").clone();
    assert_eq!(probs.shape.len(), 1);
    assert!(matches!(probs.shape[0], Dim::Symbolic(_)), "{:?}", probs.shape);
    assert_eq!(probs.signature().split('[').next(), Some("map"));
    let x = model.inputs().next().unwrap().name.clone();
    let rows = vec![0.1f32; 2 * 13];
    let out = model.predict(vec![(x.clone(), Feed::new(HostTensor::new(vec![2, 13], Values::Float32(rows))))]).unwrap();
    let map = out.iter().find(|(n, _)| n == &probs.name).map(|(_, t)| t).unwrap();
    // A shape seen again runs on a plan specialised for it: the output is still the same map.
    for _ in 0..2 {
        let again =
            model.predict(vec![(x.clone(), Feed::new(HostTensor::new(vec![2, 13], Values::Float32(vec![0.1; 26]))))]);
        assert_eq!(again.unwrap().iter().find(|(n, _)| n == &probs.name).map(|(_, t)| t), Some(map));
    }
    assert_eq!(map.shape, vec![2]);
    match &map.values {
        Values::Map { keys: MapKeys::String(keys), probabilities } => {
            // scikit-learn's classes_, sorted, are the ZipMap's labels.
            assert_eq!(keys, &["barbera", "barolo", "grignolino"]);
            assert_eq!(probabilities.len(), 6);
            assert!((probabilities[..3].iter().sum::<f32>() - 1.0).abs() < 1e-3);
        }
        other => panic!("{other:?}"),
    }
    let mut feed = Feed::new(HostTensor::new(vec![1, 13], Values::Float32(vec![0.0; 13])));
    feed.dtype = Some(DType::Map);
    let e = model.predict(vec![(x, feed)]).unwrap_err();
    assert_eq!(e.code(), "E_INPUT_DTYPE");
    assert!(e.to_string().contains("'map' is an output-only dtype"), "{e}");
}
