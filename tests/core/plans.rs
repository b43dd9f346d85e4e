//! Answers do not depend on which plan runs: every case of the NaN and infinity fixtures
//! (tests/fixtures/nan, scripts/make_nan_fixtures.py), of the layers this crate fuses
//! (tests/fixtures/layers, scripts/make_layer_fixtures.py), of the recurrent layers it
//! computes (tests/fixtures/recurrent, scripts/make_recurrent_fixtures.py) and of the shared corpus, through
//! the symbolic plan and through the plan specialised for its shapes, each against
//! onnxruntime.

use crate::common;

use std::path::PathBuf;

use edgeinfer::{Feed, LoadOptions, Model};

fn check(model: &mut Model, case: &common::Case) -> Result<(), String> {
    let feeds = case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect();
    let out = model.predict(feeds).map_err(|e| format!("{} {e}", e.code()))?;
    for (name, expected) in &case.outputs {
        let (_, actual) = out.iter().find(|(n, _)| n == name).ok_or_else(|| format!("output {name} missing"))?;
        common::compare(name, expected, actual, case.rtol, case.atol)?;
    }
    Ok(())
}

/// The case through a model that never specialises, then through one that does: two calls
/// on the symbolic plan, then, once the shape's own plan is built, two on that.
fn both_plans(case: &common::Case) -> Result<(), String> {
    let symbolic_only = LoadOptions { max_specialized_plans: 0, ..LoadOptions::default() };
    let mut generic = Model::load(&case.model, &symbolic_only).map_err(|e| format!("load: {e}"))?;
    // Twice: nothing of one prediction may carry into the next (an LSTM's state did).
    for call in ["symbolic plan", "symbolic plan again"] {
        check(&mut generic, case).map_err(|e| format!("{call}: {e}"))?;
    }
    assert_eq!(generic.specialized_plans(), 0);
    let mut model = Model::load(&case.model, &LoadOptions::default()).map_err(|e| format!("load: {e}"))?;
    for call in ["first call", "second call"] {
        check(&mut model, case).map_err(|e| format!("{call}: {e}"))?;
    }
    // Idle now: the shape seen twice gets its plan, if the model has symbols to bind.
    while model.specialize_next() {}
    for call in ["specialised plan", "specialised plan again"] {
        check(&mut model, case).map_err(|e| format!("{call}: {e}"))?;
    }
    Ok(())
}

fn all_pass(cases: &[common::Case]) {
    let failures: Vec<String> =
        cases.iter().filter_map(|c| both_plans(c).err().map(|e| format!("{}: {e}", c.name))).collect();
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn nan_and_infinities_follow_onnxruntime_in_every_plan() {
    let cases = common::cases_in(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nan"));
    assert!(cases.len() >= 39, "{}", cases.len());
    all_pass(&cases);
}

#[test]
fn fused_layers_give_onnxruntimes_answers_in_every_plan() {
    let cases = common::cases_in(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layers"));
    assert!(cases.len() >= 22, "{}", cases.len());
    all_pass(&cases);
}

#[test]
fn recurrent_layers_give_onnxruntimes_answers_in_every_plan() {
    let cases = common::cases_in(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recurrent"));
    assert!(cases.len() >= 42, "{}", cases.len());
    all_pass(&cases);
}

#[test]
fn value_inputs_give_onnxruntimes_answers() {
    let cases = common::cases_in(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/values"));
    assert!(cases.len() >= 9, "{}", cases.len());
    all_pass(&cases);
}

#[test]
fn corpus_cases_give_onnxruntimes_answers_in_every_plan() {
    let cases = common::cases();
    assert!(cases.len() >= 20, "{}", cases.len());
    all_pass(&cases);
}

#[test]
fn the_first_shape_gets_its_plan_at_once_and_others_when_the_host_is_idle() {
    let cases = common::cases_in(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nan"));
    let case = cases.iter().find(|c| c.name == "mlp_relu#0").unwrap();
    let mut model = Model::load(&case.model, &LoadOptions::default()).unwrap();
    assert_eq!(model.specialized_plans(), 0, "no plan is built at load");
    check(&mut model, case).unwrap();
    assert_eq!(model.specialized_plans(), 1, "the first prediction's shapes get their plan on its path");
    assert!(model.wants_specializing(), "the symbolic plan waits to be built");
    assert!(!model.specialize_next(), "nothing else waits once it is");
    // Another batch size: the symbolic plan answers, twice, then the shape gets its own plan.
    let mut other = case.clone();
    common::repeat_batch(&mut other, 3);
    check(&mut model, &other).unwrap();
    assert!(!model.wants_specializing(), "once is not enough");
    check(&mut model, &other).unwrap();
    assert!(model.wants_specializing());
    assert_eq!(model.specialized_plans(), 1, "no prediction builds a plan once the symbolic one exists");
    assert!(!model.specialize_next(), "nothing else waits");
    assert_eq!(model.specialized_plans(), 2);
    check(&mut model, &other).unwrap();
    check(&mut model, case).unwrap();
    // A model specialising nothing builds its symbolic plan at load and never asks.
    let mut off =
        Model::load(&case.model, &LoadOptions { max_specialized_plans: 0, ..LoadOptions::default() }).unwrap();
    for _ in 0..3 {
        check(&mut off, case).unwrap();
    }
    assert!(!off.wants_specializing());
    assert_eq!(off.specialized_plans(), 0);
}

#[test]
fn layers_are_fused_where_they_can_be_and_only_there() {
    let expectations = [
        ("layers", "dense_relu#0", &["DenseF32<24x40+bias+clamp>"][..], &["Max", "Add"][..]),
        ("layers", "dense_relu6#0", &["DenseF32<24x40+bias+clamp>"], &["Min", "Max"]),
        ("layers", "dense_3d#1", &["DenseF32<24x40+bias+clamp>"], &[]),
        ("layers", "gemm_transposed#0", &["DenseF32<24x40+bias>"], &[]),
        ("layers", "matmul_vector#0", &["DenseF32<24x1>"], &[]),
        // Read twice: the product alone is fused, its bias and ReLU stay outside.
        ("layers", "dense_read_twice#0", &["DenseF32<24x40>", "BinChainF32"], &["+bias"]),
        ("layers", "depthwise_3x3#0", &["DepthwiseF32<3x3/1+clamp>"], &["Conv", "DepthWise"]),
        ("layers", "depthwise_3x3_s2#1", &["DepthwiseF32<3x3/2>"], &["Conv"]),
        ("layers", "depthwise_5x5_relu6#0", &["DepthwiseF32<5x5/1+clamp>"], &["Min"]),
        ("layers", "grouped_conv#0", &["ConvF32<3x3/1>"], &["DepthwiseF32", "OptMatMul"]),
        ("layers", "conv_3x3#0", &["ConvF32<3x3/1+clamp>"], &["LazyIm2col", "OptMatMul", "Max"]),
        ("layers", "conv_7x7_s2#1", &["ConvF32<7x7/2+clamp>"], &["OptMatMul", "Pad"]),
        ("layers", "conv_1x1#0", &["ConvF32<1x1/1+clamp>"], &["OptMatMul", "Add", "Max"]),
        ("layers", "conv_1x1_s2#1", &["ConvF32<1x1/2+clamp>"], &["Downsample", "OptMatMul"]),
        ("layers", "attention_products#1", &["MatMulF32"], &["OptMatMul"]),
        ("indices", "gather#0", &["Gather<0>"], &[]),
        ("corpus", "recommender_topk#0", &["Gather<", "TopkF32"], &[]),
        ("recurrent", "lstm_bidirectional#0", &["LstmF32"], &["Scan"]),
        ("recurrent", "gru_linear_before_reset#1", &["GruF32"], &["Scan"]),
        ("recurrent", "rnn_relu#0", &["RnnF32"], &["Scan"]),
    ];
    for (dir, name, present, absent) in expectations {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
        let case = common::cases_in(&dir).into_iter().find(|c| c.name == name).unwrap();
        let mut model = Model::load(&case.model, &LoadOptions::default()).unwrap();
        let feeds: Vec<_> = case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect();
        let ops: Vec<String> = model.profile(feeds, &mut || 0.0).unwrap().into_iter().map(|t| t.op).collect();
        for op in present {
            assert!(ops.iter().any(|o| o.starts_with(op)), "{name}: no {op} in {ops:?}");
        }
        for op in absent {
            assert!(!ops.iter().any(|o| o.contains(op)), "{name}: {op} in {ops:?}");
        }
    }
}
