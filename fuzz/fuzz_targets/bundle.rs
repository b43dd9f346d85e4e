//! A bundle file, checked and loaded: `edgeinfer_fuzz::bundle`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| edgeinfer_fuzz::bundle(bytes));
