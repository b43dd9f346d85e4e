//! Every input a fuzz run found a bug with, kept in `regressions/TARGET/` once fixed, run
//! through its target natively: a bug found once stays fixed without a fuzzer.

use std::fs;
use std::path::Path;

use arbitrary::{Arbitrary, Unstructured};

fn each(target: &str, run: impl Fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(target);
    let Ok(entries) = fs::read_dir(&dir) else { return 0 };
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        eprintln!("{target}: {}", path.display());
        run(&fs::read(&path).unwrap());
        count += 1;
    }
    count
}

#[test]
fn crash_inputs_are_refused() {
    let ran = each("model", edgeinfer_fuzz::model)
        + each("bundle", edgeinfer_fuzz::bundle)
        + each("tables", edgeinfer_fuzz::tables)
        + each("feeds", |bytes| {
            // As libfuzzer-sys decodes a typed target's input.
            if let Ok(call) = edgeinfer_fuzz::Call::arbitrary_take_rest(Unstructured::new(bytes)) {
                edgeinfer_fuzz::feeds(call);
            }
        });
    assert!(ran > 0, "no regression inputs were found under {}", env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn every_feeds_fixture_loads_guarded_and_survives_out_of_range_input() {
    use edgeinfer_fuzz::{Call, Data, Input};
    for model in 0..8 {
        let far = Input { name: Ok(0), declared: None, shape: vec![2, 1], data: Data::Numbers(vec![1e30, -1e30]) };
        edgeinfer_fuzz::feeds(Call { model, feeds: vec![far], specialize: false });
        edgeinfer_fuzz::feeds(Call { model, feeds: vec![], specialize: true });
    }
}
