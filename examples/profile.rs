//! Where a model's time goes, natively: the median time of each node of the plan that runs
//! for the given input shapes, slowest first, and the totals by operator.
//!
//!   cargo run --release --example profile -- MODEL.onnx INPUT=DIMS[:DTYPE[:MAX]] ... [--runs N]
//!
//! `DIMS` is `1x3x224x224`; `DTYPE` float32 (the default), int64, int32 or bool; integers are
//! drawn below `MAX` (default 2), floats in [-1, 1). `--runs 0` stops after the load. The
//! build uses the release profile, whose per-crate optimisation levels are the wasm build's.

use std::collections::BTreeMap;
use std::time::Instant;

use edgeinfer::{Feed, HostTensor, LoadOptions, Model, Values};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs = args.iter().position(|a| a == "--runs").map_or(50, |i| args[i + 1].parse().expect("--runs N"));
    let path = args.first().expect("usage: profile MODEL.onnx INPUT=DIMS[:DTYPE[:MAX]] ... [--runs N]");
    let specs: Vec<&String> = args.iter().skip(1).filter(|a| a.contains('=')).collect();
    let started = Instant::now();
    let mut model =
        Model::load(&std::fs::read(path).expect("the model file"), &LoadOptions::default()).expect("the model loads");
    println!("loaded in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    if runs == 0 {
        return;
    }
    let mut seed = 1u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let feeds: Vec<(String, Feed)> = specs
        .iter()
        .map(|spec| {
            let (name, rest) = spec.split_once('=').unwrap();
            let mut parts = rest.split(':');
            let shape: Vec<usize> = parts.next().unwrap().split('x').map(|d| d.parse().expect("a dimension")).collect();
            let dtype = parts.next().unwrap_or("float32");
            let max: f64 = parts.next().map_or(2.0, |m| m.parse().expect("MAX"));
            let n: usize = shape.iter().product();
            let values = match dtype {
                "float32" => Values::Float32((0..n).map(|_| (next() * 2.0 - 1.0) as f32).collect()),
                "int64" => Values::Int64((0..n).map(|_| (next() * max) as i64).collect()),
                "int32" => Values::Int32((0..n).map(|_| (next() * max) as i32).collect()),
                "bool" => Values::Bool((0..n).map(|_| next() < 0.5).collect()),
                other => panic!("dtype {other}"),
            };
            (name.to_string(), Feed::new(HostTensor::new(shape, values)))
        })
        .collect();
    let origin = Instant::now();
    let mut clock = move || origin.elapsed().as_secs_f64() * 1e3;
    let first = clock();
    model.predict(feeds.clone()).expect("the first prediction");
    println!("first prediction {:.2} ms", clock() - first);
    for _ in 0..3 {
        model.predict(feeds.clone()).expect("a prediction");
    }
    // As a host does when idle: the plan specialised for these shapes.
    let specializing = clock();
    while model.specialize_next() {}
    println!("specialised for these shapes in {:.1} ms", clock() - specializing);
    let mut per_node: Vec<(String, String, Vec<f64>)> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..runs {
        let times = model.profile(feeds.clone(), &mut clock).expect("a profiled prediction");
        totals.push(times.iter().map(|t| t.ms).sum::<f64>());
        if per_node.is_empty() {
            per_node = times.iter().map(|t| (t.node.clone(), t.op.clone(), Vec::new())).collect();
        }
        for (entry, t) in per_node.iter_mut().zip(&times) {
            entry.2.push(t.ms);
        }
    }
    let median = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    let mut rows: Vec<(f64, String, String)> =
        per_node.into_iter().map(|(node, op, mut ms)| (median(&mut ms), node, op)).collect();
    let total = median(&mut totals);
    let mut by_op: BTreeMap<String, f64> = BTreeMap::new();
    for (ms, _, op) in &rows {
        *by_op.entry(op.clone()).or_default() += ms;
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\nnodes: {}, median total {total:.3} ms over {runs} runs\n", rows.len());
    for (ms, node, op) in rows.iter().take(40) {
        println!("{ms:9.4} ms {:5.1}%  {op:24} {node}", 100.0 * ms / total);
    }
    let mut ops: Vec<(String, f64)> = by_op.into_iter().collect();
    ops.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("\nby operator:");
    for (op, ms) in ops {
        println!("{ms:9.4} ms {:5.1}%  {op}", 100.0 * ms / total);
    }
}
