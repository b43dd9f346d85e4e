//! Runs the ONNX backend node test cases written by `make_cases.py` through the core's public
//! API (`Model::load`, `Model::predict`), the path the wasm package takes, and compares each
//! answer with onnx's expected outputs as onnx's own backend runner does: same shapes, same
//! element types, floats within `atol + rtol * |expected|` with NaN equal to NaN.
//!
//!   cargo run --release --example conformance -- CASES_DIR [--floor FLOOR.json] [--json OUT.json]
//!
//! Each case ends as one of: passed; wrong (it ran and answered differently: the one outcome
//! that must never happen); refused (a coded error, at load or at run); internal (a caught
//! panic, a bug). With `--floor`, the run fails when fewer cases pass than the floor says or
//! when a case answers wrongly that the floor does not list.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::time::Instant;

use edgeinfer::{Error, Feed, HostTensor, LoadOptions, Model, Values, guard};
use serde::{Deserialize, Serialize};
use tract_onnx::data_resolver::FopenDataResolver;

#[derive(Deserialize)]
struct Index {
    onnx: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    op: String,
    rtol: f64,
    atol: f64,
    /// Element types no JS typed array holds (bfloat16, float8, int4, ...).
    exotic: Vec<String>,
}

#[derive(Serialize, Clone, PartialEq)]
#[serde(tag = "outcome", rename_all = "lowercase")]
enum Outcome {
    Passed,
    Wrong { why: String },
    Refused { code: String, message: String },
    Internal { message: String },
}

#[derive(Deserialize)]
struct Floor {
    /// Cases with JS element types that must pass, at least.
    passed: usize,
    /// Cases known to answer wrongly; the list only shrinks.
    wrong: Vec<String>,
}

#[derive(Serialize)]
struct Result {
    name: String,
    op: String,
    exotic: bool,
    #[serde(flatten)]
    outcome: Outcome,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().expect("usage: conformance CASES_DIR [--floor FLOOR.json] [--json OUT.json]"));
    let flag = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].clone());
    let index: Index = serde_json::from_reader(File::open(dir.join("cases.json")).expect("cases.json")).unwrap();
    // Panics are caught and counted; their default report would bury the summary.
    std::panic::set_hook(Box::new(|_| {}));

    let started = Instant::now();
    let results: Vec<Result> = index
        .cases
        .iter()
        .map(|case| {
            let t = Instant::now();
            let outcome = run(&dir.join(&case.name), case);
            if t.elapsed().as_secs_f64() > 10.0 {
                eprintln!("{}: {:.1} s", case.name, t.elapsed().as_secs_f64());
            }
            Result { name: case.name.clone(), op: case.op.clone(), exotic: !case.exotic.is_empty(), outcome }
        })
        .collect();

    print_summary(&index.onnx, &results, started.elapsed().as_secs_f64());
    if let Some(out) = flag("--json") {
        serde_json::to_writer_pretty(File::create(out).expect("the results file"), &results).unwrap();
    }
    if let Some(floor) = flag("--floor") {
        let floor: Floor = serde_json::from_reader(File::open(floor).expect("the floor file")).unwrap();
        if !check_floor(&floor, &results) {
            std::process::exit(1);
        }
    }
}

fn run(dir: &Path, case: &Case) -> Outcome {
    match guard(|| predict(dir)).map(|(answers, expected)| compare(&answers, &expected, case)) {
        Ok(None) => Outcome::Passed,
        Ok(Some(why)) => Outcome::Wrong { why },
        Err(Error::Internal(message)) => Outcome::Internal { message },
        Err(e) => Outcome::Refused { code: e.code().into(), message: e.to_string() },
    }
}

type Named = Vec<(String, HostTensor)>;

/// The model's answers and onnx's expected outputs, both by output name.
fn predict(dir: &Path) -> edgeinfer::Result<(Named, Named)> {
    let bytes = std::fs::read(dir.join("model.onnx")).expect("model.onnx");
    let mut model = Model::load(&bytes, &LoadOptions::default())?;
    let feeds = read_tensors(dir, "input")?.into_iter().map(|(name, t)| (name, Feed::new(t))).collect();
    let answers = model.predict(feeds)?;
    Ok((answers, read_tensors(dir, "output").expect("onnx's expected outputs")))
}

fn read_tensors(dir: &Path, prefix: &str) -> edgeinfer::Result<Named> {
    (0..)
        .map(|j| dir.join(format!("{prefix}_{j}.pb")))
        .take_while(|p| p.exists())
        .map(|path| {
            let proto = tract_onnx::tensor::proto_from_reader(File::open(&path).unwrap()).unwrap();
            let tensor = tract_onnx::tensor::load_tensor(&FopenDataResolver, &proto, None)
                .map_err(|e| Error::ModelInvalid(format!("{}: {e}", proto.name)))?;
            Ok((proto.name.clone(), HostTensor::from_tract(&proto.name, &tensor)?))
        })
        .collect()
}

/// `None` when the answers match, otherwise what differs.
fn compare(answers: &Named, expected: &Named, case: &Case) -> Option<String> {
    if answers.len() != expected.len() {
        return Some(format!("{} outputs, expected {}", answers.len(), expected.len()));
    }
    expected.iter().find_map(|(name, want)| {
        let Some((_, got)) = answers.iter().find(|(n, _)| n == name) else {
            return Some(format!("no output '{name}'"));
        };
        if got.shape != want.shape {
            return Some(format!("'{name}': shape {:?}, expected {:?}", got.shape, want.shape));
        }
        let differs = |i: usize, g: String, w: String| Some(format!("'{name}'[{i}]: {g}, expected {w}"));
        let close =
            |g: f64, w: f64| (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= case.atol + case.rtol * w.abs();
        macro_rules! floats {
            ($g:expr, $w:expr, $to:expr) => {
                $g.iter().zip($w).enumerate().find_map(|(i, (&g, &w))| {
                    let (g, w) = ($to(g), $to(w));
                    if close(g, w) { None } else { differs(i, g.to_string(), w.to_string()) }
                })
            };
        }
        macro_rules! exact {
            ($g:expr, $w:expr) => {
                $g.iter()
                    .zip($w)
                    .enumerate()
                    .find_map(|(i, (g, w))| if g == w { None } else { differs(i, format!("{g:?}"), format!("{w:?}")) })
            };
        }
        match (&got.values, &want.values) {
            (Values::Float32(g), Values::Float32(w)) => floats!(g, w, f64::from),
            (Values::Float64(g), Values::Float64(w)) => floats!(g, w, |x: f64| x),
            (Values::Float16(g), Values::Float16(w)) => {
                floats!(g, w, |b: u16| f64::from(tract_onnx::prelude::f16::from_bits(b).to_f32()))
            }
            (Values::Int8(g), Values::Int8(w)) => exact!(g, w),
            (Values::Int16(g), Values::Int16(w)) => exact!(g, w),
            (Values::Int32(g), Values::Int32(w)) => exact!(g, w),
            (Values::Int64(g), Values::Int64(w)) => exact!(g, w),
            (Values::Uint8(g), Values::Uint8(w)) => exact!(g, w),
            (Values::Uint16(g), Values::Uint16(w)) => exact!(g, w),
            (Values::Uint32(g), Values::Uint32(w)) => exact!(g, w),
            (Values::Uint64(g), Values::Uint64(w)) => exact!(g, w),
            (Values::Bool(g), Values::Bool(w)) => exact!(g, w),
            (Values::String(g), Values::String(w)) => exact!(g, w),
            (g, w) => Some(format!("'{name}': {} values, expected {}", g.describe(), w.describe())),
        }
    })
}

fn print_summary(onnx: &str, results: &[Result], seconds: f64) {
    #[derive(Default)]
    struct Counts {
        passed: usize,
        wrong: usize,
        refused: usize,
        internal: usize,
    }
    let mut by_op: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for r in results.iter().filter(|r| !r.exotic) {
        for c in [by_op.entry(&r.op).or_default(), &mut total] {
            match r.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Wrong { .. } => c.wrong += 1,
                Outcome::Refused { .. } => c.refused += 1,
                Outcome::Internal { .. } => c.internal += 1,
            }
        }
    }
    println!("{:<32} {:>6} {:>6} {:>7} {:>8}", "operator (not all passed)", "passed", "wrong", "refused", "internal");
    for (op, c) in by_op.iter().filter(|(_, c)| c.wrong + c.refused + c.internal > 0) {
        println!("{op:<32} {:>6} {:>6} {:>7} {:>8}", c.passed, c.wrong, c.refused, c.internal);
    }
    for r in results.iter().filter(|r| !r.exotic) {
        match &r.outcome {
            Outcome::Wrong { why } => println!("WRONG {}: {why}", r.name),
            Outcome::Internal { message } => println!("INTERNAL {}: {message}", r.name),
            _ => {}
        }
    }
    let exotic = results.iter().filter(|r| r.exotic).count();
    let exotic_passed = results.iter().filter(|r| r.exotic && r.outcome == Outcome::Passed).count();
    println!(
        "onnx {onnx} node tests with JS element types: {} passed, {} wrong, {} refused, {} internal, of {} ({seconds:.0} s)",
        total.passed,
        total.wrong,
        total.refused,
        total.internal,
        results.len() - exotic
    );
    println!("with other element types (bfloat16, float8, int4, ...): {exotic_passed} of {exotic} passed");
}

fn check_floor(floor: &Floor, results: &[Result]) -> bool {
    let mut ok = true;
    let passed = results.iter().filter(|r| !r.exotic && r.outcome == Outcome::Passed).count();
    if passed < floor.passed {
        println!("FAIL: {passed} cases passed, the floor is {}", floor.passed);
        ok = false;
    } else if passed > floor.passed {
        println!("{passed} cases passed: raise the floor from {}", floor.passed);
    }
    for r in results {
        let listed = floor.wrong.contains(&r.name);
        match r.outcome {
            Outcome::Wrong { .. } if !listed => {
                println!("FAIL: {} answers wrongly and is not in the floor's list", r.name);
                ok = false;
            }
            Outcome::Wrong { .. } => {}
            _ if listed => println!("{} no longer answers wrongly: remove it from the floor's list", r.name),
            _ => {}
        }
    }
    ok
}
