use edgeinfer::*;
use std::time::Instant;
fn main() {
    let bytes = std::fs::read("../shared/corpus/mlp_tabular.onnx").unwrap();
    for pin in [false, true] {
        let opts = if pin { LoadOptions { input_shapes: vec![("x".into(), vec![1, 32])], ..Default::default() } } else { LoadOptions::default() };
        let mut m = Model::load(&bytes, &opts).unwrap();
        let x = HostTensor::new(vec![1, 32], Values::Float32(vec![0.1; 32]));
        for _ in 0..1000 { m.predict(vec![("x".into(), Feed::new(x.clone()))]).unwrap(); }
        let t = Instant::now();
        let n: usize = std::env::var("N").ok().and_then(|s| s.parse().ok()).unwrap_or(20000);
        for _ in 0..n { m.predict(vec![("x".into(), Feed::new(x.clone()))]).unwrap(); }
        println!("pin={pin}: {:.2} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
}
