//! The wasm build's global allocator, wrapped. It counts the bytes live on the heap: a
//! model's memory is what the calls into it leave allocated (`Meter`), because a model's
//! weights are not its only holdings (packed copies per plan, prediction state, monitoring
//! buffers) and only the allocator sees them all. It also zeroes what is freed while a bundle's
//! snapshot is made (see `snapshot`).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Bytes allocated and not yet freed, through `Heap`.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// On while a snapshot is made: the snapshot (which leaves out zeros) then holds the live
/// model and not the ONNX bytes and parse trees it was made from.
static ZERO_FREED: AtomicBool = AtomicBool::new(false);

/// Bytes live on the heap now: 0 where `Heap` is not the global allocator.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

pub fn zero_freed(on: bool) {
    ZERO_FREED.store(on, Ordering::Relaxed);
}

/// The bytes a model holds, kept up to date by metering each call that can change them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    held: usize,
}

impl Meter {
    /// A meter that starts from what was allocated since `since` (a `live()` reading).
    pub fn since(since: usize) -> Meter {
        Meter { held: live().saturating_sub(since) }
    }

    /// Runs `f`, adding what it leaves allocated (or taking what it freed). What `f` returns
    /// is counted too: the model itself, or values that own no heap memory.
    pub fn run<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let before = live();
        let out = f();
        self.held = (self.held + live()).saturating_sub(before);
        out
    }

    /// Counts bytes allocated before, that the model now owns.
    pub fn take_over(&mut self, bytes: usize) {
        self.held += bytes;
    }

    pub fn held(&self) -> usize {
        self.held
    }
}

/// The allocator `A`, counting live bytes.
pub struct Heap<A>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for Heap<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { self.0.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ZERO_FREED.load(Ordering::Relaxed) {
            unsafe { ptr.write_bytes(0, layout.size()) };
        }
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ZERO_FREED.load(Ordering::Relaxed) {
            // In place, the allocator would keep a shrunk block's tail, or move without
            // zeroing. SAFETY: the caller's contract for `realloc` gives a valid layout of
            // `new_size`.
            let moved = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
            if !moved.is_null() {
                unsafe {
                    moved.copy_from_nonoverlapping(ptr, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            return moved;
        }
        let moved = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    // One test: the counter is global, and no other test allocates through `Heap`.
    #[test]
    fn counts_live_bytes_and_meters_what_a_call_leaves() {
        let heap = Heap(System);
        let start = live();
        let small = Layout::from_size_align(100, 8).unwrap();
        let a = unsafe { heap.alloc(small) };
        let b = unsafe { heap.alloc_zeroed(small) };
        assert_eq!(live() - start, 200);
        let a = unsafe { heap.realloc(a, small, 1000) };
        assert_eq!(live() - start, 1100, "realloc counts the new size");

        let mut meter = Meter::default();
        let kept = meter.run(|| unsafe { heap.alloc(small) });
        assert_eq!(meter.held(), 100, "what a call leaves allocated is held");
        meter.run(|| unsafe { heap.dealloc(b, small) });
        assert_eq!(meter.held(), 0, "what it frees is given back");
        meter.run(|| unsafe { heap.dealloc(kept, small) });
        assert_eq!(meter.held(), 0, "never below nothing");
        meter.take_over(40);
        assert_eq!(meter.held(), 40);

        zero_freed(true);
        let big = Layout::from_size_align(1000, 8).unwrap();
        let moved = unsafe { heap.realloc(a, big, 10) };
        assert_eq!(live() - start, 10, "a zeroing realloc moves, and counts the same");
        unsafe { heap.dealloc(moved, Layout::from_size_align(10, 8).unwrap()) };
        zero_freed(false);
        assert_eq!(live(), start);
        assert_eq!(Meter::since(start + 5).held(), 0, "a reading above the live bytes holds nothing");
    }
}
