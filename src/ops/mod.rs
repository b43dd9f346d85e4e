//! The operator registry: tract-onnx's operators plus the ones this crate adds.

pub(crate) mod index_checks;
pub(crate) mod ml;

/// The ONNX framework every model is parsed with.
pub fn framework() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    ml::register(&mut onnx.op_register);
    onnx
}
