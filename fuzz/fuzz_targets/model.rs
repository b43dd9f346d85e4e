//! An ONNX file to two predictions: `edgeinfer_fuzz::model`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| edgeinfer_fuzz::model(bytes));
