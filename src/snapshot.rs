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

use std::alloc::{GlobalAlloc, Layout};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::{LoadOptions, Model};

thread_local! {
    /// The model `edgeinfer_snapshot` loaded, until the restored instance takes it.
    static PARKED: RefCell<Option<Model>> = const { RefCell::new(None) };
}

/// On while a snapshot is made: freed memory is zeroed, so the snapshot (which leaves out
/// zeros) holds the live model and not the ONNX bytes and parse trees it was made from.
static ZERO_FREED: AtomicBool = AtomicBool::new(false);

/// The global allocator, zeroing what is freed while a snapshot is made.
pub struct ZeroFreed<A>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for ZeroFreed<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ZERO_FREED.load(Ordering::Relaxed) {
            unsafe { ptr.write_bytes(0, layout.size()) };
        }
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !ZERO_FREED.load(Ordering::Relaxed) {
            return unsafe { self.0.realloc(ptr, layout, new_size) };
        }
        // In place, the allocator would keep a shrunk block's tail, or move without zeroing.
        // SAFETY: the caller's contract for `realloc` gives a valid layout of `new_size`.
        let moved = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !moved.is_null() {
            unsafe {
                moved.copy_from_nonoverlapping(ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

/// Loads the ONNX model at `ptr` (`len` bytes from `__wbindgen_malloc(len, 1)`, taken over
/// and freed) with the default options and parks it; returns 0, or 1 if it fails to load.
/// A raw export, called by js/snapshot.js with numbers only.
///
/// # Safety
/// `ptr` must come from `__wbindgen_malloc(len, 1)` and hold `len` initialised bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn edgeinfer_snapshot(ptr: *mut u8, len: usize) -> u32 {
    ZERO_FREED.store(true, Ordering::Relaxed);
    // SAFETY: per the contract above, the allocation is exactly `len` bytes of alignment 1.
    let onnx = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let loaded = Model::load_owned(onnx, &LoadOptions::default());
    let status = match loaded {
        Ok(model) => {
            PARKED.with(|p| *p.borrow_mut() = Some(model));
            0
        }
        Err(_) => 1,
    };
    ZERO_FREED.store(false, Ordering::Relaxed);
    status
}

/// The parked model of a restored snapshot, once.
pub fn take() -> Option<Model> {
    PARKED.with(|p| p.borrow_mut().take())
}
