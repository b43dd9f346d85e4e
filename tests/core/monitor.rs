//! Monitoring through the core's public API: quality metrics against scikit-learn's on the
//! same labels (tests/fixtures/monitor, made by scripts/make_monitor_fixtures.py), feedback
//! joins and refusals, drift on a real model, redaction, and bounded memory over a million
//! predictions.

use crate::common;

use std::path::PathBuf;

use edgeinfer::monitor::guard::{GuardMode, GuardOptions};
use edgeinfer::monitor::logs::LogOptions;
use edgeinfer::monitor::{
    Column, Host, Label, ManualHost, Monitor, MonitorOptions, MonitoredModel, PredictionId, Reference,
};
use edgeinfer::{DType, Dim, Error, Feed, HostTensor, LoadOptions, Model, TensorInfo, Values};
use serde_json::Value;

fn fixture() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/monitor/quality.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn batch() -> Dim {
    Dim::Symbolic("N".into())
}

fn info(name: &str, dtype: DType, shape: Vec<Dim>) -> TensorInfo {
    TensorInfo::new(name, dtype, shape)
}

fn x_input() -> Vec<TensorInfo> {
    vec![info("x", DType::Float32, vec![batch(), Dim::Fixed(2)])]
}

fn x_feed(rows: usize) -> Vec<(String, Feed)> {
    vec![("x".into(), Feed::new(HostTensor::new(vec![rows, 2], Values::Float32(vec![0.5; rows * 2]))))]
}

/// Runs one prediction of `outputs` through the monitor, returning its id.
fn predict(m: &mut Monitor, host: &mut ManualHost, rows: usize, outputs: &[(String, HostTensor)]) -> String {
    let mut feeds = x_feed(rows);
    let started = host.now_ms;
    let call = m.start(&mut feeds, started, host).unwrap();
    m.succeed(call, outputs, host).expect("the host gives entropy").render()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(label: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-12 + 1e-9 * want.abs(), "{label}: {got} vs scikit-learn {want}");
}

fn close_all(label: &str, got: &[f64], want: &Value) {
    let want = floats(want);
    assert_eq!(got.len(), want.len(), "{label}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        close(&format!("{label}[{i}]"), *g, *w);
    }
}

fn check_classification(report: &Value, expected: &Value) {
    assert_eq!(report["classes"], expected["classes"]);
    close("accuracy", report["accuracy"].as_f64().unwrap(), expected["accuracy"].as_f64().unwrap());
    for key in ["precision", "recall", "f1"] {
        close_all(key, &floats(&report[key]), &expected[key]);
        for avg in ["macro", "weighted"] {
            close(&format!("{avg} {key}"), report[avg][key].as_f64().unwrap(), expected[avg][key].as_f64().unwrap());
        }
    }
    assert_eq!(report["support"], expected["support"]);
    assert_eq!(report["confusion"], expected["confusion"]);
    match expected.get("roc_auc") {
        Some(auc) => close("roc_auc", report["rocAuc"].as_f64().unwrap(), auc.as_f64().unwrap()),
        None => assert!(report.get("rocAuc").is_none()),
    }
}

/// A classifier monitor fed the case's predictions one row per call (or in batches of 7),
/// with the truth given by feedback, then its report as JSON.
fn classify(case: &Value, window: usize, batch_rows: usize) -> Value {
    let scored = case.get("scores").is_some();
    let strings = case["y_true"][0].is_string();
    let k = if scored { case["scores"][0].as_array().unwrap().len() } else { 0 };
    let mut outputs_info = vec![info("label", if strings { DType::String } else { DType::Int64 }, vec![batch()])];
    if scored {
        outputs_info.push(info("probabilities", DType::Float32, vec![batch(), Dim::Fixed(k)]));
    }
    let options = MonitorOptions { quality_window: window, ..MonitorOptions::default() };
    let mut m = Monitor::new(&x_input(), &outputs_info, &[], options).unwrap();
    let mut host = ManualHost::new(1);
    let n = case["y_true"].as_array().unwrap().len();
    for start in (0..n).step_by(batch_rows) {
        let rows: Vec<usize> = (start..(start + batch_rows).min(n)).collect();
        let label = if strings {
            Values::String(rows.iter().map(|&i| case["y_pred"][i].as_str().unwrap().to_owned()).collect())
        } else {
            Values::Int64(rows.iter().map(|&i| case["y_pred"][i].as_i64().unwrap()).collect())
        };
        let mut outputs = vec![("label".to_string(), HostTensor::new(vec![rows.len()], label))];
        if scored {
            let p: Vec<f32> = rows.iter().flat_map(|&i| floats(&case["scores"][i])).map(|x| x as f32).collect();
            outputs.push(("probabilities".into(), HostTensor::new(vec![rows.len(), k], Values::Float32(p))));
        }
        let id = predict(&mut m, &mut host, rows.len(), &outputs);
        let labels: Vec<Label> = rows
            .iter()
            .map(|&i| match &case["y_true"][i] {
                Value::String(s) => Label::Text(s.clone()),
                v => Label::Number(v.as_f64().unwrap()),
            })
            .collect();
        assert_eq!(m.feedback(&id, &labels).unwrap(), rows.len());
    }
    serde_json::to_value(m.stats(0.0).quality.unwrap()).unwrap()
}

#[test]
fn classifier_quality_equals_scikit_learn() {
    let f = fixture();
    for (name, batch_rows) in [("binary", 1), ("multiclass", 7), ("strings", 5)] {
        let case = &f[name];
        let report = classify(case, 1000, batch_rows);
        assert_eq!(report["task"], "classification", "{name}");
        check_classification(&report, &case["expected"]);
    }
    let case = &f["window"];
    let report = classify(case, case["window"].as_u64().unwrap() as usize, 3);
    assert_eq!(report["rows"], 200);
    assert_eq!(report["labelledTotal"], 600);
    check_classification(&report, &case["expected"]);
}

#[test]
fn regressor_quality_equals_scikit_learn() {
    let case = &fixture()["regression"];
    let outputs_info = [info("variable", DType::Float32, vec![batch(), Dim::Fixed(1)])];
    let mut m = Monitor::new(&x_input(), &outputs_info, &[], MonitorOptions::default()).unwrap();
    let mut host = ManualHost::new(2);
    for (p, t) in floats(&case["y_pred"]).iter().zip(floats(&case["y_true"])) {
        let outputs = [("variable".to_string(), HostTensor::new(vec![1, 1], Values::Float32(vec![*p as f32])))];
        let id = predict(&mut m, &mut host, 1, &outputs);
        // Labels as JSON gives them: numbers, or numbers in strings.
        let label = if t > 150.0 { Label::Number(t) } else { Label::Text(format!("{t}")) };
        m.feedback(&id, &[label]).unwrap();
    }
    let q = m.stats(0.0).quality.unwrap();
    assert_eq!(q.task, "regression");
    close("mae", q.mae.unwrap(), case["expected"]["mae"].as_f64().unwrap());
    close("rmse", q.rmse.unwrap(), case["expected"]["rmse"].as_f64().unwrap());
}

#[test]
fn prediction_ids_are_unguessable() {
    let outputs_info = [info("label", DType::Int64, vec![batch()])];
    let mut m = Monitor::new(&x_input(), &outputs_info, &[], MonitorOptions::default()).unwrap();
    let mut host = ManualHost::new(21);
    let one = [("label".to_string(), HostTensor::new(vec![1], Values::Int64(vec![1])))];
    let ids: Vec<String> = (0..2000).map(|_| predict(&mut m, &mut host, 1, &one)).collect();
    let tokens: Vec<u128> = ids.iter().map(|id| PredictionId::parse(id).unwrap().token).collect();
    assert_eq!(tokens.iter().collect::<std::collections::HashSet<_>>().len(), tokens.len(), "no token repeats");
    // Nothing links consecutive ids: about half of the 96 bits differ between neighbours,
    // and every bit is set in about half of the ids.
    let flips: u32 = tokens.windows(2).map(|w| (w[0] ^ w[1]).count_ones()).sum();
    let mean_flips = flips as f64 / (tokens.len() - 1) as f64;
    assert!((44.0..52.0).contains(&mean_flips), "{mean_flips} bits differ between neighbours");
    for bit in 0..96 {
        let set = tokens.iter().filter(|&&t| t >> bit & 1 == 1).count();
        assert!((800..1200).contains(&set), "bit {bit} set in {set} of 2000 ids");
    }
    // An id one off from a real one, or a real one's token under another instance, is unknown.
    let last = PredictionId::parse(ids.last().unwrap()).unwrap();
    for guess in [PredictionId { token: last.token + 1, ..last }, PredictionId { token: last.token ^ 1, ..last }] {
        let err = m.feedback(&guess.render(), &[Label::Number(1.0)]).unwrap_err();
        assert_eq!(err.code(), "E_PREDICTION_UNKNOWN", "{guess:?}");
    }
    assert_eq!(m.feedback(&last.render(), &[Label::Number(1.0)]), Ok(1));
}

/// A host that has no entropy to give until told.
struct NoEntropyYet(ManualHost, bool);

impl Host for NoEntropyYet {
    fn monotonic_ms(&mut self) -> f64 {
        self.0.monotonic_ms()
    }
    fn unix_ms(&mut self) -> f64 {
        self.0.unix_ms()
    }
    fn seed(&mut self) -> Option<[u8; 32]> {
        if self.1 { self.0.seed() } else { None }
    }
}

#[test]
fn predictions_without_entropy_have_no_id_until_there_is_some() {
    let outputs_info = [info("label", DType::Int64, vec![batch()])];
    let mut m = Monitor::new(&x_input(), &outputs_info, &[], MonitorOptions::default()).unwrap();
    let mut host = NoEntropyYet(ManualHost::new(5), false);
    let one = [("label".to_string(), HostTensor::new(vec![1], Values::Int64(vec![1])))];
    let mut feeds = x_feed(1);
    let call = m.start(&mut feeds, 0.0, &mut host).unwrap();
    assert_eq!(m.succeed(call, &one, &mut host), None);
    assert_eq!(m.stats(0.0).performance.predictions, 1, "the prediction still counts");
    host.1 = true;
    let call = m.start(&mut feeds, 0.0, &mut host).unwrap();
    let id = m.succeed(call, &one, &mut host).expect("an id once the host gives entropy");
    assert_eq!(m.feedback(&id.render(), &[Label::Number(1.0)]), Ok(1));
}

/// The iris case: integer labels, classes named by `class_labels`. Feedback by name
/// joins the prediction of that index, and a label that is no class is refused.
#[test]
fn feedback_takes_class_names_and_refuses_labels_that_are_no_class() {
    let outputs_info = [info("label", DType::Int64, vec![batch()])];
    let meta = [("class_labels".to_string(), "setosa, versicolor, virginica".to_string())];
    let mut m = Monitor::new(&x_input(), &outputs_info, &meta, MonitorOptions::default()).unwrap();
    let mut host = ManualHost::new(3);
    let two = [("label".to_string(), HostTensor::new(vec![2], Values::Int64(vec![0, 2])))];
    let id = predict(&mut m, &mut host, 2, &two);
    assert_eq!(m.feedback(&id, &[Label::Text("setosa".into()), Label::Number(2.0)]), Ok(2));
    let quality = m.stats(0.0).quality.unwrap();
    assert_eq!(quality.accuracy, Some(1.0), "a name and an index both join their class");
    assert_eq!(quality.classes, ["setosa", "virginica"]);
    let other = predict(&mut m, &mut host, 2, &two);
    for wrong in [Label::Number(7.0), Label::Text("rose".into())] {
        let e = m.feedback(&other, &[wrong, Label::Missing]).unwrap_err();
        assert_eq!(e.code(), "E_FEEDBACK_INVALID");
        assert!(e.to_string().contains("not one of the model's classes: setosa, versicolor, virginica"), "{e}");
    }
    assert_eq!(m.stats(0.0).feedback.rows, 2, "nothing of a refused call is kept");
}

#[test]
fn feedback_refusals_name_what_is_wrong() {
    let outputs_info = [info("label", DType::Int64, vec![batch()])];
    let options = MonitorOptions { feedback_capacity: 10, ..MonitorOptions::default() };
    let mut m = Monitor::new(&x_input(), &outputs_info, &[], options.clone()).unwrap();
    let mut host = ManualHost::new(3);
    let two = [("label".to_string(), HostTensor::new(vec![2], Values::Int64(vec![1, 0])))];
    let id = predict(&mut m, &mut host, 2, &two);
    let code = |r: Result<usize, Error>| r.map_err(|e| (e.code(), e.to_string()));
    let (c, msg) = code(m.feedback(&id, &[Label::Number(1.0)])).unwrap_err();
    assert_eq!(c, "E_FEEDBACK_INVALID");
    assert!(msg.contains("has 2 rows, got 1 label"), "{msg}");
    assert_eq!(code(m.feedback(&id, &[Label::Number(1.0), Label::Missing])), Ok(1));
    assert_eq!(code(m.feedback(&id, &[Label::Text("1".into()), Label::Number(0.0)])), Ok(1), "same label again: no-op");
    let (c, msg) = code(m.feedback(&id, &[Label::Number(0.0), Label::Number(0.0)])).unwrap_err();
    assert_eq!(c, "E_FEEDBACK_INVALID");
    assert!(msg.contains("already has the label '1'; got '0'"), "{msg}");
    let (c, _) = code(m.feedback(&id, &[Label::Number(0.5), Label::Missing])).unwrap_err();
    assert_eq!(c, "E_FEEDBACK_INVALID");
    assert_eq!(m.stats(0.0).feedback.rows, 2);
    assert_eq!(m.stats(0.0).quality.unwrap().accuracy, Some(1.0));

    for junk in ["", "nope", "12345678-x"] {
        assert_eq!(code(m.feedback(junk, &[])).unwrap_err().0, "E_PREDICTION_UNKNOWN");
    }
    let (prefix, _) = id.split_once('-').unwrap();
    let (c, msg) = code(m.feedback(&format!("{prefix}-{:024x}", 99), &[Label::Number(1.0)])).unwrap_err();
    assert_eq!(c, "E_PREDICTION_UNKNOWN");
    assert!(msg.contains("no prediction"), "{msg}");
    // Another monitor (another isolate) refuses this one's ids as foreign.
    let mut other = Monitor::new(&x_input(), &outputs_info, &[], options).unwrap();
    let mut other_host = ManualHost::new(4);
    predict(&mut other, &mut other_host, 2, &two);
    let (c, msg) = code(other.feedback(&id, &[Label::Number(1.0), Label::Number(1.0)])).unwrap_err();
    assert_eq!(c, "E_PREDICTION_UNKNOWN");
    assert!(msg.contains("another instance"), "{msg}");
    // Ten rows later the first prediction is gone.
    for _ in 0..5 {
        predict(&mut m, &mut host, 2, &two);
    }
    let (c, msg) = code(m.feedback(&id, &[Label::Number(1.0), Label::Number(0.0)])).unwrap_err();
    assert_eq!(c, "E_PREDICTION_UNKNOWN");
    assert!(msg.contains("too old") && msg.contains("feedbackCapacity"), "{msg}");
    assert_eq!(m.stats(0.0).feedback.unknown, 5);

    let topk = [info("top_items", DType::Int64, vec![batch(), Dim::Fixed(10)])];
    let mut none = Monitor::new(&x_input(), &topk, &[], MonitorOptions::default()).unwrap();
    let out = [("top_items".to_string(), HostTensor::new(vec![1, 10], Values::Int64(vec![0; 10])))];
    let id = predict(&mut none, &mut host, 1, &out);
    assert_eq!(code(none.feedback(&id, &[Label::Number(1.0)])).unwrap_err().0, "E_FEEDBACK_INVALID");
}

#[test]
fn labelled_rows_are_exported_with_their_features_prediction_and_label() {
    let outputs_info = [info("label", DType::Int64, vec![batch()])];
    let meta = [("class_labels".to_string(), "setosa, versicolor, virginica".to_string())];
    let options = |export_feedback| MonitorOptions {
        name: "iris".into(),
        version: "4".into(),
        features: Some(vec!["petal_length".into(), "owner_id".into()]),
        log: LogOptions { redact: vec!["owner_id".into()], ..LogOptions::default() },
        export_feedback,
        ..MonitorOptions::default()
    };
    let mut m = Monitor::new(&x_input(), &outputs_info, &meta, options(true)).unwrap();
    let mut host = ManualHost::new(8);
    let mut feeds =
        vec![("x".into(), Feed::new(HostTensor::new(vec![2, 2], Values::Float32(vec![1.5, 7.0, 4.25, 8.0]))))];
    let call = m.start(&mut feeds, host.now_ms, &mut host).unwrap();
    let two = [("label".to_string(), HostTensor::new(vec![2], Values::Int64(vec![0, 2])))];
    let id = m.succeed(call, &two, &mut host).unwrap().render();
    assert!(m.take_export().is_empty(), "nothing is exported before it is labelled");
    // The second row labelled, at a known time; the first left for later.
    assert_eq!(m.feedback_at(&id, &[Label::Missing, Label::Text("versicolor".into())], 1_795_608_000_000.0), Ok(1));
    let lines = m.take_export();
    assert_eq!(lines.len(), 1);
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["model"], "iris");
    assert_eq!(line["version"], "4");
    assert_eq!(line["id"], id.as_str());
    assert_eq!(line["row"], 1);
    assert_eq!(line["features"], serde_json::json!({ "petal_length": 4.25 }), "owner_id is redacted");
    assert_eq!(line["prediction"], "virginica");
    assert_eq!(line["label"], "versicolor");
    assert_eq!(line["labelled"], "2026-11-25T12:00:00.000Z");
    assert!(line["predicted"].as_str().unwrap().ends_with('Z'));
    assert!(m.take_export().is_empty(), "taking empties the queue");
    assert_eq!(m.stats(0.0).feedback.exported, 1);
    // Off by default: the features are not held, and nothing is exported.
    let mut plain = Monitor::new(&x_input(), &outputs_info, &meta, options(false)).unwrap();
    let id = predict(&mut plain, &mut host, 2, &two);
    assert_eq!(plain.feedback(&id, &[Label::Number(0.0), Label::Number(2.0)]), Ok(2));
    assert!(plain.take_export().is_empty());
    assert_eq!(plain.footprint().export, (0, 0));
    // A model whose outputs name nothing to label cannot export labelled rows.
    let scores = [info("embedding", DType::Float32, vec![batch(), Dim::Fixed(4), Dim::Fixed(3)])];
    let e = Monitor::new(&x_input(), &scores, &[], options(true)).unwrap_err();
    assert!(e.to_string().contains("monitoring.exportFeedback"), "{e}");
}

#[test]
fn memory_stays_bounded_over_a_million_predictions() {
    let outputs_info = [
        info("label", DType::Int64, vec![batch()]),
        info("probabilities", DType::Float32, vec![batch(), Dim::Fixed(3)]),
    ];
    let columns = vec![
        ("x[0]".to_string(), Column::Numeric((0..1000).map(|i| (i % 97) as f64 / 97.0).collect())),
        ("x[1]".to_string(), Column::Numeric((0..1000).map(|i| (i % 13) as f64).collect())),
    ];
    let options = MonitorOptions {
        reference: Some(Reference::from_columns(&columns).unwrap()),
        drift: edgeinfer::monitor::drift::DriftOptions { window: 500, ..Default::default() },
        quality_window: 300,
        feedback_capacity: 2000,
        max_classes: 50,
        log: LogOptions {
            enabled: true,
            sample_rate: 0.01,
            include_inputs: true,
            max_lines: 100,
            ..LogOptions::default()
        },
        guard: Some(GuardOptions { mode: GuardMode::Clip, ..GuardOptions::default() }),
        export_feedback: true,
        ..MonitorOptions::default()
    };
    let mut m = Monitor::new(&x_input(), &outputs_info, &[], options).unwrap();
    let mut host = ManualHost::new(5);
    host.step_ms = 0.02;
    let mut feeds: Vec<Vec<(String, Feed)>> = (0..4)
        .map(|r| {
            vec![("x".into(), Feed::new(HostTensor::new(vec![1, 2], Values::Float32(vec![r as f32 * 0.25, r as f32]))))]
        })
        .collect();
    let mut sizes = None;
    for i in 0..1_000_000u64 {
        let outputs = [
            ("label".to_string(), HostTensor::new(vec![1], Values::Int64(vec![(i % 3) as i64]))),
            ("probabilities".to_string(), HostTensor::new(vec![1, 3], Values::Float32(vec![0.2, 0.3, 0.5]))),
        ];
        let call = m.start(&mut feeds[(i % 4) as usize], host.now_ms, &mut host).unwrap();
        let id = m.succeed(call, &outputs, &mut host).unwrap().render();
        if i % 10 == 0 {
            // Ground truth for a tenth, some of it naming new classes (bounded by maxClasses).
            let label = if i % 1000 == 0 { Label::Text(format!("new-{i}")) } else { Label::Number((i % 2) as f64) };
            let _ = m.feedback(&id, &[label]);
        }
        if i % 50_000 == 0 {
            m.fail(None, &Error::InputShape { name: "x".into(), message: "bad".into() }, host.now_ms, &mut host);
        }
        if i == 100_000 {
            sizes = Some(m.footprint());
        }
    }
    let end = m.footprint();
    let lines_only =
        |f: &edgeinfer::monitor::Footprint| edgeinfer::monitor::Footprint { log: (f.log.0, 0), ..f.clone() };
    assert_eq!(
        Some(lines_only(&end)),
        sizes.as_ref().map(lines_only),
        "no structure grew between 100,000 and 1,000,000 predictions"
    );
    assert_eq!(end.pending, (2000, 2000, 6000));
    assert_eq!(end.quality, (300, 900));
    assert!(end.drift.iter().all(|&n| n <= 500), "{:?}", end.drift);
    assert_eq!(end.classes, 50);
    assert_eq!(end.log.0, 100);
    // Every prediction's features held only as long as its rows are; labelled lines capped.
    assert_eq!(end.export, (2000, 2000));
    let feedback = m.stats(host.now_ms).feedback;
    assert_eq!(feedback.export_dropped, feedback.exported - 2000);
    assert!(feedback.exported > 99_000, "{}", feedback.exported);
    assert!(end.log.1 < 100_000, "{} bytes of logs held", end.log.1);
    let stats = m.stats(host.now_ms);
    assert_eq!(stats.performance.predictions, 1_000_000);
    assert_eq!(stats.performance.errors.total, 20);
    assert!(stats.logs.written > 9_000 && stats.logs.written < 11_000, "{}", stats.logs.written);
    assert!((stats.performance.latency_ms.p50.unwrap() - 0.02).abs() < 0.02 * 0.01);
}

fn corpus_model(name: &str) -> Model {
    let bytes = std::fs::read(common::corpus_dir().join(format!("{name}.onnx"))).unwrap();
    Model::load(&bytes, &LoadOptions::default()).unwrap()
}

/// Rows of a standard-normal-ish design for mlp_tabular's 32 features.
fn design(rows: usize, seed: u64, shift: (usize, f32)) -> Vec<f32> {
    let mut x = seed;
    (0..rows * 32)
        .map(|i| {
            let mut s = 0.0;
            for _ in 0..12 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s += (x >> 11) as f32 / (1u64 << 53) as f32;
            }
            s - 6.0 + if i % 32 == shift.0 { shift.1 } else { 0.0 }
        })
        .collect()
}

#[test]
fn a_real_model_monitored_end_to_end() {
    let mut plain = MonitoredModel::new(corpus_model("mlp_tabular"), MonitorOptions::default()).unwrap();
    let sample =
        vec![("x".to_string(), Feed::new(HostTensor::new(vec![2000, 32], Values::Float32(design(2000, 1, (0, 0.0))))))];
    let reference = plain.build_reference(sample).unwrap();
    assert_eq!(reference.features.len(), 32);
    assert_eq!(reference.features[5].name(), "x[5]");
    assert_eq!(reference.prediction.as_ref().map(|p| p.name()), Some("y"));
    let json = reference.to_json();
    assert_eq!(
        plain.stats(&mut ManualHost::new(0)).unwrap().performance.predictions,
        0,
        "building a reference is not traffic"
    );

    let options = MonitorOptions {
        name: "mlp".into(),
        version: "3".into(),
        reference: Some(Reference::from_json(&json).unwrap()),
        log: LogOptions { enabled: true, include_inputs: true, redact: vec!["x[7]".into()], ..LogOptions::default() },
        ..MonitorOptions::default()
    };
    let mut m = MonitoredModel::new(corpus_model("mlp_tabular"), options).unwrap();
    let mut host = ManualHost::new(9);
    host.step_ms = 0.5;
    for seed in 0..10 {
        let feeds = vec![(
            "x".to_string(),
            Feed::new(HostTensor::new(vec![100, 32], Values::Float32(design(100, 100 + seed, (7, 0.5))))),
        )];
        let p = m.predict(&mut host, || Ok(feeds)).unwrap();
        assert!(p.id.is_some());
        assert_eq!(p.outputs[0].1.shape, [100, 1]);
    }
    let err = m.predict(&mut host, || Ok(vec![])).unwrap_err();
    assert_eq!(err.code(), "E_INPUT_MISSING");
    let err = m.predict(&mut host, || Err(Error::InvalidOption("feeds must be an object".into()))).unwrap_err();
    assert_eq!(err.code(), "E_INVALID_OPTION");

    let stats = m.stats(&mut host).unwrap();
    assert_eq!((stats.performance.predictions, stats.performance.rows), (10, 1000));
    assert_eq!(stats.performance.errors.by_code.get("E_INPUT_MISSING"), Some(&1));
    assert_eq!(stats.performance.errors.by_code.get("E_INVALID_OPTION"), Some(&1));
    assert!((stats.performance.latency_ms.p50.unwrap() - 0.5).abs() < 0.005, "{:?}", stats.performance.latency_ms);
    assert_eq!(stats.performance.batch_size.max, 100);

    let drift = m.drift().unwrap();
    let shifted: Vec<&str> = drift
        .features
        .iter()
        .filter(|f| f.status == edgeinfer::monitor::drift::Status::Drift)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(shifted, ["x[7]"], "{drift:?}");
    assert_eq!(drift.rows, 1000);

    let text = m.prometheus(None).unwrap();
    for line in [
        "edgeinfer_predictions_total{model=\"mlp\",version=\"3\"} 10",
        "edgeinfer_predict_rows_total{model=\"mlp\",version=\"3\"} 1000",
        "edgeinfer_predict_errors_total{model=\"mlp\",version=\"3\",code=\"E_INPUT_MISSING\"} 1",
        "edgeinfer_predict_duration_seconds_bucket{model=\"mlp\",version=\"3\",le=\"0.001\"} 10",
        "edgeinfer_predict_duration_seconds_bucket{model=\"mlp\",version=\"3\",le=\"0.00025\"} 0",
        "edgeinfer_predict_duration_seconds_count{model=\"mlp\",version=\"3\"} 10",
        "edgeinfer_predict_batch_size_bucket{model=\"mlp\",version=\"3\",le=\"128\"} 10",
        "edgeinfer_drift_detected{model=\"mlp\",version=\"3\"} 1",
        "edgeinfer_drift_feature_detected{model=\"mlp\",version=\"3\",feature=\"x[7]\",kind=\"feature\"} 1",
        "# TYPE edgeinfer_predict_duration_seconds histogram",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    // Rates are Prometheus' to take (`rate()` of a counter): no precomputed one is exposed.
    assert!(!text.contains("_per_second"), "{text}");
    for kind in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = kind.split_once(' ').unwrap();
        assert_eq!(name.ends_with("_total"), kind == "counter", "{name} is a {kind}");
    }
    let labelled = m.prometheus(Some(&[("model".into(), "a\"b".into())])).unwrap();
    assert!(labelled.contains("edgeinfer_predictions_total{model=\"a\\\"b\"} 10"));
    assert_eq!(m.prometheus(Some(&[("le".into(), "x".into())])).unwrap_err().code(), "E_INVALID_OPTION");

    let logs = m.take_logs();
    assert_eq!(logs.len(), 12, "ten predictions and two failures");
    let first: Value = serde_json::from_str(&logs[0]).unwrap();
    assert_eq!(
        (first["model"].as_str(), first["version"].as_str(), first["rows"].as_u64()),
        (Some("mlp"), Some("3"), Some(100))
    );
    assert_eq!(first["latency_ms"], 0.5);
    assert_eq!(first["inputs"]["x[0]"].as_array().unwrap().len(), 100);
    for line in &logs {
        assert!(!line.contains("x[7]"), "a redacted feature was logged: {line}");
    }
    assert!(m.take_logs().is_empty());

    // Monitoring off: nothing is watched, and asking says so.
    let mut off = MonitoredModel::new(
        corpus_model("mlp_tabular"),
        MonitorOptions { enabled: false, ..MonitorOptions::default() },
    )
    .unwrap();
    let feeds = vec![("x".to_string(), Feed::new(HostTensor::new(vec![1, 32], Values::Float32(vec![0.0; 32]))))];
    assert_eq!(off.predict(&mut host, || Ok(feeds)).unwrap().id, None);
    assert_eq!(off.stats(&mut host).unwrap_err().code(), "E_INVALID_OPTION");
}

#[test]
fn input_guards_refuse_clip_or_flag_a_real_model_s_out_of_range_features() {
    let sample =
        vec![("x".to_string(), Feed::new(HostTensor::new(vec![2000, 32], Values::Float32(design(2000, 1, (0, 0.0))))))];
    let mut plain = MonitoredModel::new(corpus_model("mlp_tabular"), MonitorOptions::default()).unwrap();
    let reference = plain.build_reference(sample).unwrap();
    let edgeinfer::monitor::reference::FeatureReference::Numeric(x3) = &reference.features[3] else { panic!() };
    let (min, max) = (x3.quantiles[0], x3.quantiles[20]);
    let hi = max + (max - min) * 0.1;
    let guarded = |mode| {
        let options = MonitorOptions {
            reference: Some(reference.clone()),
            guard: Some(GuardOptions { mode, ..GuardOptions::default() }),
            log: LogOptions { enabled: true, ..LogOptions::default() },
            ..MonitorOptions::default()
        };
        MonitoredModel::new(corpus_model("mlp_tabular"), options).unwrap()
    };
    // Eight rows like training, but x[3] of row 5 is far above anything seen.
    let mut x = design(8, 7, (0, 0.0));
    x[5 * 32 + 3] = 1e6;
    let feeds =
        |x: &[f32]| vec![("x".to_string(), Feed::new(HostTensor::new(vec![8, 32], Values::Float32(x.to_vec()))))];
    let mut host = ManualHost::new(3);
    let outputs = |m: &mut MonitoredModel, host: &mut ManualHost, x: &[f32]| match m.predict(host, || Ok(feeds(x))) {
        Ok(p) => p.outputs[0].1.values.clone(),
        Err(e) => panic!("{e}"),
    };
    let as_sent = outputs(&mut plain, &mut host, &x);
    let mut clipped_x = x.clone();
    clipped_x[5 * 32 + 3] = hi as f32;
    let clipped = outputs(&mut plain, &mut host, &clipped_x);
    assert_ne!(as_sent, clipped);

    let mut refuse = guarded(GuardMode::Refuse);
    let err = refuse.predict(&mut host, || Ok(feeds(&x))).unwrap_err();
    assert_eq!(err.code(), "E_INPUT_VALUE");
    let text = err.to_string();
    assert!(text.contains("feature 'x[3]' is 1000000 in row 5, outside the allowed range"), "{text}");
    assert_eq!(outputs(&mut refuse, &mut host, &clipped_x), clipped, "the model stays usable");
    let stats = refuse.stats(&mut host).unwrap();
    assert_eq!(stats.performance.errors.by_code.get("E_INPUT_VALUE"), Some(&1));
    let guard = stats.guard.unwrap();
    assert_eq!((guard.calls, guard.flagged_calls, guard.refused_calls), (2, 1, 1));
    assert_eq!((guard.features[3].feature.as_str(), guard.features[3].above), ("x[3]", 1));
    let logs = refuse.take_logs();
    let line: Value = serde_json::from_str(&logs[0]).unwrap();
    assert_eq!(line["error"], "E_INPUT_VALUE");
    assert_eq!(line["guard"], serde_json::json!([{ "feature": "x[3]", "kind": "above", "rows": 1 }]));
    assert!(!logs[0].contains("1000000"), "logs name features, not values: {}", logs[0]);
    let metrics = refuse.prometheus(None).unwrap();
    for line in [
        "edgeinfer_guard_violations_total{model=\"\",version=\"\",feature=\"x[3]\",kind=\"above\"} 1",
        "edgeinfer_guard_refused_calls_total{model=\"\",version=\"\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line} in\n{metrics}");
    }

    let mut clip = guarded(GuardMode::Clip);
    assert_eq!(outputs(&mut clip, &mut host, &x), clipped, "clip predicts on the value moved into range");
    assert_eq!(clip.stats(&mut host).unwrap().guard.unwrap().clipped_values, 1);
    let mut flag = guarded(GuardMode::Flag);
    assert_eq!(outputs(&mut flag, &mut host, &x), as_sent, "flag predicts on the value as sent");
    let line: Value = serde_json::from_str(&flag.take_logs()[0]).unwrap();
    assert_eq!(line["guard"][0]["kind"], "above");
    assert!(line["error"].is_null());
}

#[test]
fn a_csv_reference_maps_onto_a_model_by_name_or_position() {
    let header: Vec<String> = (0..32).map(|j| format!("f{j}")).collect();
    let rows = design(500, 7, (0, 0.0));
    let mut csv = header.join(",") + "\n";
    for row in rows.chunks(32) {
        csv += &row.iter().map(f32::to_string).collect::<Vec<_>>().join(",");
        csv += "\n";
    }
    let columns = edgeinfer::monitor::csv::columns(&csv, &[]).unwrap();
    // Without a model: the CSV's own names, which then name the model's unnamed columns.
    let reference = Reference::from_columns(&columns).unwrap();
    assert_eq!(reference.features[0].name(), "f0");
    let options = MonitorOptions { reference: Some(reference), ..MonitorOptions::default() };
    let m = MonitoredModel::new(corpus_model("mlp_tabular"), options).unwrap();
    assert_eq!(m.drift().unwrap().features[3].name, "f3");
    // With the model: its feature names, and its predictions.
    let mut with_model = MonitoredModel::new(corpus_model("mlp_tabular"), MonitorOptions::default()).unwrap();
    let reference = with_model.build_reference_from_columns(&columns).unwrap();
    assert_eq!(reference.features[3].name(), "x[3]");
    assert_eq!(reference.rows, 500);
    assert!(reference.prediction.is_some());
    // A reference naming a feature the model lacks is refused at load.
    let bad = Reference::from_columns(&[("colour".to_string(), Column::Numeric(vec![1.0]))]).unwrap();
    let err = MonitoredModel::new(
        corpus_model("mlp_tabular"),
        MonitorOptions { reference: Some(bad), ..MonitorOptions::default() },
    )
    .unwrap_err();
    assert_eq!(err.code(), "E_INVALID_OPTION");
    assert!(err.to_string().contains("'colour'"), "{err}");
}

#[test]
fn scikit_learn_classifiers_are_detected_from_their_outputs() {
    let mut m = MonitoredModel::new(corpus_model("sk_logreg_breast_cancer"), MonitorOptions::default()).unwrap();
    let case = common::cases().into_iter().find(|c| c.name == "sk_logreg_breast_cancer#1").unwrap();
    let feeds: Vec<(String, Feed)> = case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect();
    let rows = feeds[0].1.tensor.shape[0];
    let mut host = ManualHost::new(11);
    let p = m.predict(&mut host, || Ok(feeds)).unwrap();
    let labels: Vec<Label> = match &p.outputs[0].1.values {
        Values::Int64(v) => v.iter().map(|&c| Label::Number(c as f64)).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(labels.len(), rows);
    assert_eq!(m.feedback(&p.id.unwrap().render(), &labels, &mut host).unwrap(), rows);
    let q = m.stats(&mut host).unwrap().quality.unwrap();
    assert_eq!(q.task, "classification");
    assert_eq!(q.accuracy, Some(1.0), "its own predictions as truth");
    assert_eq!(q.classes, ["0", "1"]);
    assert!(q.roc_auc.is_some_and(|auc| auc > 0.99), "{q:?}");
}
