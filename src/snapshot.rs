//! Bundles' fast start: a model loaded at build time, kept as the memory of the instance
//! that loaded it. Parsing and optimising ONNX is most of a cold start (tract cannot store an
//! optimised graph), so `edgeinfer build` loads the model in a fresh instance of the very
//! runtime the bundle carries, parks it in `PARKED`, and stores that instance's memory; a
//! bundle's loader checks the stored memory against the signed manifest, writes it over its
//! own fresh instance's memory (js/snapshot.js) and takes the model out of `PARKED`.
//!
//! Memory is only the same state in the same code: the loader restores a snapshot only into
//! an instance of the bundle's own module that holds nothing yet. The instance that makes the
//! snapshot gets imports that all throw, so nothing in it can refer to a JS value.

use std::cell::RefCell;

use crate::heap::{self, Meter};
use crate::model::{LoadOptions, Model};

thread_local! {
    /// The model `edgeinfer_snapshot` loaded, and what it holds, until the restored instance
    /// takes it.
    static PARKED: RefCell<Option<(Model, Meter)>> = const { RefCell::new(None) };
}

/// Loads the ONNX model at `ptr` (`len` bytes from `__wbindgen_malloc(len, 1)`, taken over
/// and freed) with the default options and parks it; returns 0, or 1 if it fails to load.
/// A raw export, called by js/snapshot.js with numbers only.
///
/// # Safety
/// `ptr` must come from `__wbindgen_malloc(len, 1)` and hold `len` initialised bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgeinfer_snapshot(ptr: *mut u8, len: usize) -> u32 {
    heap::zero_freed(true);
    // The ONNX bytes were allocated before, and are freed by the load.
    let before = heap::live().saturating_sub(len);
    // SAFETY: per the contract above, the allocation is exactly `len` bytes of alignment 1.
    let onnx = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let loaded = Model::load_owned(onnx, &LoadOptions::default());
    let status = match loaded {
        Ok(model) => {
            let meter = Meter::since(before);
            PARKED.with(|p| *p.borrow_mut() = Some((model, meter)));
            0
        }
        Err(_) => 1,
    };
    heap::zero_freed(false);
    status
}

/// The parked model of a restored snapshot, and what it holds, once.
pub fn take() -> Option<(Model, Meter)> {
    PARKED.with(|p| p.borrow_mut().take())
}
