//! Every case of the shared acceptance corpus through the native core, compared with the
//! reference outputs onnxruntime produced.

use crate::common;

use edgeinfer::{Feed, LoadOptions, Model};

#[test]
fn every_corpus_case_matches_onnxruntime() {
    let mut failures = Vec::new();
    let cases = common::cases();
    assert!(cases.len() >= 20, "expected the full corpus, found {} cases", cases.len());
    for case in &cases {
        let result = Model::load(&case.model, &LoadOptions::default())
            .and_then(|mut m| m.predict(case.inputs.iter().map(|(k, t)| (k.clone(), Feed::new(t.clone()))).collect()));
        match result {
            Err(e) => failures.push(format!("{}: {} {e}", case.name, e.code())),
            Ok(out) => {
                for (name, expected) in &case.outputs {
                    let Some((_, actual)) = out.iter().find(|(n, _)| n == name) else {
                        failures.push(format!("{}: output {name} missing", case.name));
                        continue;
                    };
                    if let Err(why) = common::compare(name, expected, actual, case.rtol, case.atol) {
                        failures.push(format!("{}: {why}", case.name));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
