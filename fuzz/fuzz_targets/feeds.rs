//! Inputs as callers give them, against loaded models: `edgeinfer_fuzz::feeds`.
#![no_main]

libfuzzer_sys::fuzz_target!(|call: edgeinfer_fuzz::Call| edgeinfer_fuzz::feeds(call));
