//! The demo's film recommender (www/data/recommender.onnx, written by
//! scripts/train_recommender.py) on the native core: it loads with tract's operators and gives
//! onnxruntime's answers for the pick sets the script recorded in www/data/reference.json.

use crate::common;

use std::path::PathBuf;

use edgeinfer::{DType, Dim, Feed, HostTensor, LoadOptions, Model, Values};
use serde_json::Value;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/data")
}

fn load() -> Model {
    let bytes = std::fs::read(data_dir().join("recommender.onnx")).unwrap();
    Model::load(&bytes, &LoadOptions::default()).unwrap()
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data_dir().join("reference.json")).unwrap()).unwrap()
}

fn films() -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir().join("films.json")).unwrap();
    let catalogue: Value = serde_json::from_str(&text).unwrap();
    catalogue["films"].as_array().unwrap().clone()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

fn feeds(liked: Vec<i64>, allowed: Vec<bool>) -> Vec<(String, Feed)> {
    vec![
        ("liked".into(), Feed::new(HostTensor::new(vec![liked.len()], Values::Int64(liked)))),
        ("allowed".into(), Feed::new(HostTensor::new(vec![allowed.len()], Values::Bool(allowed)))),
    ]
}

#[test]
fn schema_is_what_the_page_feeds() {
    let m = load();
    let n_films = films().len();
    let inputs: Vec<_> = m.inputs().map(|i| (i.name.clone(), i.dtype, i.shape.clone())).collect();
    assert_eq!(
        inputs,
        vec![
            ("liked".to_string(), DType::Int64, vec![Dim::Symbolic("n_liked".into())]),
            ("allowed".to_string(), DType::Bool, vec![Dim::Fixed(n_films)]),
        ]
    );
    let outputs: Vec<_> = m.outputs().iter().map(|o| (o.name.as_str(), o.signature())).collect();
    assert_eq!(
        outputs,
        vec![("items", "int64[10]".into()), ("scores", "float32[10]".into()), ("because", "int64[10]".into())]
    );
}

#[test]
fn recommendations_match_onnxruntime() {
    let mut m = load();
    let films = films();
    let cases = reference()["cases"].as_array().unwrap().clone();
    assert!(cases.len() >= 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let genre = case["genre"].as_str();
        let genre_index = genre.map(|g| {
            let catalogue: Value =
                serde_json::from_str(&std::fs::read_to_string(data_dir().join("films.json")).unwrap()).unwrap();
            catalogue["genres"].as_array().unwrap().iter().position(|x| x == g).unwrap() as i64
        });
        let allowed = films.iter().map(|f| genre_index.is_none_or(|g| ints(&f["genres"]).contains(&g))).collect();
        let out = m.predict(feeds(ints(&case["picks"]), allowed)).unwrap();
        let get = |n: &str| &out.iter().find(|(k, _)| k == n).unwrap().1;
        let expected_scores: Vec<f32> =
            case["scores"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        let int_tensor = |v: Vec<i64>| HostTensor::new(vec![v.len()], Values::Int64(v));
        common::compare(&format!("{name}: items"), &int_tensor(ints(&case["items"])), get("items"), 0.0, 0.0).unwrap();
        common::compare(&format!("{name}: because"), &int_tensor(ints(&case["because"])), get("because"), 0.0, 0.0)
            .unwrap();
        let scores = HostTensor::new(vec![expected_scores.len()], Values::Float32(expected_scores));
        common::compare(&format!("{name}: scores"), &scores, get("scores"), 1e-4, 1e-5).unwrap();
    }
}

#[test]
fn bad_picks_are_refused_and_the_model_keeps_serving() {
    let mut m = load();
    let n = films().len();
    // A film index past the catalogue must be an error, never a read out of bounds.
    assert!(m.predict(feeds(vec![n as i64 + 5], vec![true; n])).is_err());
    // No picks at all (the page never asks): an answer or an error, not a panic.
    let empty = m.predict(feeds(vec![], vec![true; n]));
    eprintln!("no picks: {empty:?}");
    let out = m.predict(feeds(vec![0, 1], vec![true; n])).unwrap();
    let Values::Int64(items) = &out[0].1.values else { panic!("items: {:?}", out[0].1) };
    assert_eq!(items.len(), 10);
    assert!(!items.contains(&0) && !items.contains(&1));
}
