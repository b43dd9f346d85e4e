//! One operator's work split into parts that run on the threads the host gave the engine.
//!
//! The thread that asks runs the first part itself and then spins until the others are done:
//! a browser's main thread may not block on a lock, and an idle caller would waste a core.
//! Without the `threads` feature, or before the host gives a pool (`set_pool`), there is one
//! part and it runs where it is asked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Threads the next operators may use, the caller's included.
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// How many parts work may be split into now: at least 1, at most the pool's threads that
/// run and the caller.
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed).clamp(1, running() + 1)
}

/// The most threads operators can have: the pool's, running or not yet, and the caller.
pub fn capacity() -> usize {
    #[cfg(feature = "threads")]
    if let Some(pool) = pool() {
        return pool.current_num_threads() + 1;
    }
    1
}

/// Work below this many multiply-adds runs on one thread: waking another costs more than it
/// saves.
const SPLIT_FROM: usize = 1 << 16;

/// How many of `pieces` (the smallest units an operator's `work` multiply-adds split into:
/// planes, panels, rows) each part takes: all of them when the work is too small to split,
/// else an even share per thread. At least 1, so that chunks of that many pieces are never
/// empty.
pub fn per_part(work: usize, pieces: usize) -> usize {
    let parts = if work < SPLIT_FROM { 1 } else { threads().min(pieces).max(1) };
    pieces.div_ceil(parts).max(1)
}

/// Sets how many threads (the caller's included) operators may use from now on.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

#[cfg(feature = "threads")]
static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();

/// Gives the parts their pool, once: the caller runs a part too, so `threads()` can be one
/// more than the pool has. Hands the pool back if one was given before.
#[cfg(feature = "threads")]
pub fn set_pool(pool: rayon::ThreadPool) -> Result<(), rayon::ThreadPool> {
    POOL.set(pool)
}

/// Pool threads that have started (`thread_running`): a pool's threads may take a while to
/// come up (a Worker each), and parts go only to as many as run, so that nothing waits for
/// them.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Says that one more of the pool's threads runs (called on that thread, as it starts).
pub fn thread_running() {
    RUNNING.fetch_add(1, Ordering::Release);
}

/// Set once the host lost one of the pool's threads (`lose_pool`).
static POOL_LOST: AtomicBool = AtomicBool::new(false);

/// Stops giving parts to the pool, for good: the host lost one of its threads, and a part
/// sent to the pool might never come back.
pub fn lose_pool() {
    POOL_LOST.store(true, Ordering::Relaxed);
}

/// The pool, while it has every thread it was given.
#[cfg(feature = "threads")]
fn pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get().filter(|_| !POOL_LOST.load(Ordering::Relaxed))
}

/// The pool's threads that run.
fn running() -> usize {
    (capacity() - 1).min(RUNNING.load(Ordering::Acquire))
}

/// Runs `f(i, &mut items[i])` for every item, each on one thread: `items[0]` on the caller's,
/// the others on the pool's. Returns when all are done; a part's panic is raised again here
/// once every part has finished, so no part outlives the borrows it was given. `f` must not
/// split its part again: a pool thread spinning on parts queued behind it could wait for ever.
pub fn for_each_mut<T: Send>(items: &mut [T], f: impl Fn(usize, &mut T) + Sync) {
    #[cfg(feature = "threads")]
    if let Some(pool) = pool().filter(|_| items.len() > 1) {
        return run::run(pool, items, &f);
    }
    for (i, item) in items.iter_mut().enumerate() {
        f(i, item);
    }
}

#[cfg(feature = "threads")]
mod run {
    use std::any::Any;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The items' address, sent to the pool's threads.
    struct Items<T>(*mut T);
    // SAFETY: each thread reaches a different item through it (see `run`), and T is Send.
    unsafe impl<T: Send> Sync for Items<T> {}

    impl<T> Items<T> {
        /// Item `i`. SAFETY: `i` is in bounds, and no other reference to that item lives.
        #[allow(clippy::mut_from_ref)]
        unsafe fn get(&self, i: usize) -> &mut T {
            unsafe { &mut *self.0.add(i) }
        }
    }

    /// Waits, when dropped, until no spawned part is left: also when the caller unwinds.
    struct Wait<'a>(&'a AtomicUsize);

    impl Drop for Wait<'_> {
        fn drop(&mut self) {
            while self.0.load(Ordering::Acquire) != 0 {
                std::hint::spin_loop();
            }
        }
    }

    pub(super) fn run<T: Send>(pool: &rayon::ThreadPool, items: &mut [T], f: &(impl Fn(usize, &mut T) + Sync)) {
        let items_at = Items(items.as_mut_ptr());
        let panicked: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);
        let part = |i: usize| {
            // SAFETY: `i` is below items.len(), and each index runs once (0 here, the others
            // in one job each), so the `&mut` are disjoint; `run` outlives them all (Wait).
            let item = unsafe { items_at.get(i) };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(i, item))) {
                panicked.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
            }
        };
        let left = AtomicUsize::new(0);
        {
            let wait = Wait(&left);
            let job = |i: usize| {
                part(i);
                left.fetch_sub(1, Ordering::Release);
            };
            let job: &(dyn Fn(usize) + Sync) = &job;
            // SAFETY: the pool wants 'static jobs; this one borrows from this frame,
            // which `wait` keeps alive until every spawned job has run, unwinding included.
            let job: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(job) };
            for i in 1..items.len() {
                pool.spawn(move || job(i));
                // Counted once queued, so that a `spawn` that unwinds leaves nothing to wait
                // for. A job may finish first: the count then wraps below zero and back.
                left.fetch_add(1, Ordering::Relaxed);
            }
            part(0);
            drop(wait);
        }
        if let Some(payload) = panicked.into_inner().unwrap_or_else(|e| e.into_inner()) {
            resume_unwind(payload);
        }
    }
}

/// The tests' pool of two threads, given once per test process, and the lock a test that
/// sets the thread count holds (the count is global, and tests run side by side).
#[cfg(all(test, feature = "threads"))]
fn test_pool() -> std::sync::MutexGuard<'static, ()> {
    static SETTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static POOL: std::sync::Once = std::sync::Once::new();
    POOL.call_once(|| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).start_handler(|_| thread_running());
        let _ = set_pool(pool.build().unwrap());
    });
    // The threads start as the pool is built; wait until they say so.
    while running() < 2 {
        std::thread::yield_now();
    }
    SETTING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `run` on one thread, then on two and three (the tests' pool and the caller), and
/// asserts each answer is the same bits as the first, which it returns.
#[cfg(all(test, feature = "threads"))]
pub(crate) fn same_bits_on_threads(what: &str, run: impl Fn() -> Vec<f32>) -> Vec<f32> {
    let _setting = test_pool();
    let on = |n: usize| {
        set_threads(n);
        assert_eq!(threads(), n);
        let out = run();
        set_threads(1);
        out
    };
    let one = on(1);
    for n in [2, 3] {
        let split = on(n);
        assert_eq!(split.len(), one.len());
        assert!(one.iter().zip(&split).all(|(a, b)| a.to_bits() == b.to_bits()), "{what} on {n} threads");
    }
    one
}

#[cfg(all(test, feature = "threads"))]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_on_its_own_item_and_panics_come_back() {
        let _setting = test_pool();
        {
            let mut items: Vec<Vec<usize>> = vec![Vec::new(); 7];
            for_each_mut(&mut items, |i, item| item.push(i * 10));
            assert_eq!(items, (0..7).map(|i| vec![i * 10]).collect::<Vec<_>>());

            let done = AtomicUsize::new(0);
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for_each_mut(&mut [0u8; 5], |i, _| {
                    done.fetch_add(1, Ordering::Relaxed);
                    assert!(i != 3, "part three fails");
                })
            }));
            let message = caught.unwrap_err().downcast::<&str>().unwrap();
            assert_eq!(*message, "part three fails");
            assert_eq!(done.load(Ordering::Relaxed), 5, "every part ran before the panic came back");
        }
    }
}
