//! CSV and reference text: `edgeinfer_fuzz::tables`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| edgeinfer_fuzz::tables(bytes));
