//! The operator registry: tract-onnx's operators plus the ones this crate adds.

/// The ONNX framework every model is parsed with.
pub fn framework() -> tract_onnx::Onnx {
    tract_onnx::onnx()
}
