//! One operator's work split into parts that run on the threads the host gave the engine.
//!
//! The thread that asks takes parts too, and then spins until the others are done: a
//! browser's main thread may not block on a lock, and an idle caller would waste a core.
//! Without the `threads` feature, or before the host's threads run (`set_team`, `team::work`),
//! there is one part and it runs where it is asked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[cfg(feature = "threads")]
pub mod team;

/// Threads the next operators may use, the caller's included.
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// How many parts work may be split into now: at least 1, at most the team's threads that
/// run and the caller.
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed).clamp(1, running() + 1)
}

/// The most threads operators can have: the team's, running or not yet, and the caller.
pub fn capacity() -> usize {
    if TEAM_LOST.load(Ordering::Relaxed) { 1 } else { TEAM.load(Ordering::Relaxed) + 1 }
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

/// The threads the host promised to start (`set_team`).
static TEAM: AtomicUsize = AtomicUsize::new(0);

/// Says how many threads the host starts, each calling `team::work` once it runs: at most
/// once, so that `capacity` never shrinks under a model that was given it. Returns whether
/// this was the first time.
#[cfg(feature = "threads")]
pub fn set_team(threads: usize) -> bool {
    let threads = threads.min(team::MOST_THREADS);
    TEAM.compare_exchange(0, threads, Ordering::Relaxed, Ordering::Relaxed).is_ok()
}

/// Set once the host lost one of the team's threads (`lose_team`).
static TEAM_LOST: AtomicBool = AtomicBool::new(false);

/// Stops giving parts to the team, for good: the host lost one of its threads, and a part
/// it had claimed will never finish.
pub fn lose_team() {
    TEAM_LOST.store(true, Ordering::Relaxed);
}

/// The team's threads that run and may take parts.
pub fn running() -> usize {
    #[cfg(feature = "threads")]
    if !TEAM_LOST.load(Ordering::Relaxed) {
        return team::running().min(TEAM.load(Ordering::Relaxed));
    }
    0
}

/// Runs `f(i, &mut items[i])` for every item, each on one thread: the caller's or a team
/// thread's, whichever claims it. Returns when all are done; a part's panic is raised again
/// here once every part has finished, so no part outlives the borrows it was given. A part
/// that splits again runs its own parts itself (`team::post`).
pub fn for_each_mut<T: Send>(items: &mut [T], f: impl Fn(usize, &mut T) + Sync) {
    #[cfg(feature = "threads")]
    if items.len() > 1 && running() > 0 {
        let items_at = Items(items.as_mut_ptr());
        // SAFETY: `team::post` runs each index below items.len() once, so the `&mut` are
        // disjoint, and returns only once all have run.
        return team::post(items.len(), &|i| f(i, unsafe { items_at.get(i) }));
    }
    for (i, item) in items.iter_mut().enumerate() {
        f(i, item);
    }
}

/// The items' address, shared with the team's threads.
#[cfg(feature = "threads")]
struct Items<T>(*mut T);
// SAFETY: each thread reaches a different item through it (see `for_each_mut`), and T is Send.
#[cfg(feature = "threads")]
unsafe impl<T: Send> Sync for Items<T> {}

#[cfg(feature = "threads")]
impl<T> Items<T> {
    /// Item `i`. SAFETY: `i` is in bounds, and no other reference to that item lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self, i: usize) -> &mut T {
        unsafe { &mut *self.0.add(i) }
    }
}

/// The tests' team of two threads, started once per test process, and the lock a test that
/// sets the thread count holds (the count is global, and tests run side by side).
#[cfg(all(test, feature = "threads"))]
fn test_team() -> std::sync::MutexGuard<'static, ()> {
    static SETTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static TEAM: std::sync::Once = std::sync::Once::new();
    TEAM.call_once(|| {
        assert!(set_team(2));
        for _ in 0..2 {
            std::thread::spawn(team::work);
        }
    });
    while running() < 2 {
        std::thread::yield_now();
    }
    SETTING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `run` on one thread, then on two and three (the tests' team and the caller), and
/// asserts each answer is the same bits as the first, which it returns.
#[cfg(all(test, feature = "threads"))]
pub(crate) fn same_bits_on_threads(what: &str, run: impl Fn() -> Vec<f32>) -> Vec<f32> {
    let _setting = test_team();
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
        let _setting = test_team();
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

    /// Records which thread ran each of `parts` parts, each part taking `busy` to run.
    fn who_ran(parts: usize, busy: std::time::Duration) -> Vec<std::thread::ThreadId> {
        let mut ran = vec![std::thread::current().id(); parts];
        for_each_mut(&mut ran, |_, who| {
            let start = std::time::Instant::now();
            while start.elapsed() < busy {
                std::hint::spin_loop();
            }
            *who = std::thread::current().id();
        });
        ran
    }

    #[test]
    fn the_team_takes_parts_awake_and_after_sleeping() {
        let _setting = test_team();
        let me = std::thread::current().id();
        let busy = std::time::Duration::from_millis(20);
        // Just after a job, the team spins; after a pause, it sleeps and must be woken.
        for pause in [0, 200] {
            std::thread::sleep(std::time::Duration::from_millis(pause));
            let before = team::taken();
            let ran = who_ran(3, busy);
            assert!(ran.iter().any(|&id| id != me), "after {pause} ms, no part ran on the team: {ran:?}");
            assert!(team::taken() > before, "the team counts the parts it took");
        }
    }

    #[test]
    fn many_jobs_in_a_row_each_run_every_part_once() {
        let _setting = test_team();
        for job in 0..20_000usize {
            let parts = 2 + job % 5;
            let mut items = vec![0usize; parts];
            for_each_mut(&mut items, |i, item| *item += i + job);
            assert!(items.iter().enumerate().all(|(i, &v)| v == i + job), "job {job}: {items:?}");
        }
    }

    #[test]
    fn a_part_that_splits_again_runs_its_parts_itself() {
        let _setting = test_team();
        let mut outer = vec![Vec::new(); 3];
        for_each_mut(&mut outer, |i, inner: &mut Vec<usize>| {
            let mut items = vec![0usize; 4];
            for_each_mut(&mut items, |j, item| *item = i * 10 + j);
            *inner = items;
        });
        assert_eq!(outer, (0..3).map(|i| (0..4).map(|j| i * 10 + j).collect()).collect::<Vec<Vec<usize>>>());
    }
}
