use std::time::Instant;
use tract_onnx::prelude::*;
use tract_onnx::WithOnnx;
fn main() -> TractResult<()> {
    let path = std::env::args().nth(1).unwrap();
    let onnx = tract_onnx::onnx();
    let t = Instant::now();
    let m = onnx.model_for_path(&path)?;
    let t1 = t.elapsed();
    let typed = m.into_typed()?;
    let t2 = t.elapsed();
    let dec = typed.into_decluttered()?;
    let t3 = t.elapsed();
    let opt = dec.clone().into_optimized()?;
    let t4 = t.elapsed();
    let _plan = opt.into_runnable()?;
    let t5 = t.elapsed();
    println!("onnx: parse {:?} typed {:?} declutter {:?} optimize {:?} plan {:?}", t1, t2 - t1, t3 - t2, t4 - t3, t5 - t4);
    let nnef = tract_nnef::nnef().with_onnx();
    let mut buf = vec![];
    nnef.write_to_tar_with_config(&dec, &mut buf, false, true)?;
    println!("nnef tar: {} bytes (onnx {} bytes)", buf.len(), std::fs::metadata(&path)?.len());
    let t = Instant::now();
    let back = nnef.model_for_read(&mut &buf[..])?;
    let r1 = t.elapsed();
    let opt2 = back.into_optimized()?;
    let r2 = t.elapsed();
    let _p = opt2.into_runnable()?;
    let r3 = t.elapsed();
    println!("nnef: read {:?} optimize {:?} plan {:?}", r1, r2 - r1, r3 - r2);
    Ok(())
}
