//! The threads that take parts: the host starts each one (a Web Worker, a Node worker thread)
//! and has it call `work`, which does not return. A caller posts a job of numbered parts;
//! every thread, the caller included, claims parts until none is left; the caller returns
//! once all have run.
//!
//! The caller never waits on a lock or an atomic: it posts with plain atomic stores and wakes
//! sleeping threads with `unpark` (a `notify`), which a browser's main thread may do, where
//! waiting would trap. Only the team's threads sleep (`park`, an atomic wait). Why this is not
//! rayon: docs/decisions/own-thread-pool.md.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::thread::Thread;

/// One job: the parts to run and how many have not finished. It lives in the caller's frame,
/// which `post` keeps until `left` is zero.
struct Job<'a> {
    part: &'a (dyn Fn(usize) + Sync),
    left: AtomicUsize,
    /// The first part's panic, boxed, raised again by the caller once all parts ran.
    panic: AtomicPtr<Box<dyn Any + Send>>,
}

impl Job<'_> {
    fn run(&self, i: usize) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.part)(i))) {
            let boxed = Box::into_raw(Box::new(payload));
            if self.panic.compare_exchange(ptr::null_mut(), boxed, Ordering::AcqRel, Ordering::Relaxed).is_err() {
                // SAFETY: `boxed` was made just above and was not stored.
                drop(unsafe { Box::from_raw(boxed) });
            }
        }
        self.left.fetch_sub(1, Ordering::Release);
    }
}

/// The job parts are claimed from, set before `CLAIM` says it has parts.
static JOB: AtomicPtr<Job<'static>> = AtomicPtr::new(ptr::null_mut());

/// The current job's parts: how many (high 16 bits) and the next to claim (low 16 bits). A
/// claim is a compare-and-swap of this word, so whatever word a thread read, a claim that
/// succeeds takes a part of the job posted now that no one else took.
static CLAIM: AtomicU32 = AtomicU32::new(0);

/// The most parts a job may have.
const MOST_PARTS: usize = 0xffff;

/// Bumped for each job.
static POSTED: AtomicU32 = AtomicU32::new(0);

/// Team threads asleep (or about to sleep) until `POSTED` changes: the caller wakes them only
/// then.
static SLEEPING: AtomicU32 = AtomicU32::new(0);

/// The most threads a team may have.
pub(super) const MOST_THREADS: usize = 64;

/// Each team thread, to unpark: set once by the thread itself, read without a lock.
static THREADS: [OnceLock<Thread>; MOST_THREADS] = [const { OnceLock::new() }; MOST_THREADS];

/// Set while a job is posted: a second caller (a part splitting again, another thread) runs
/// its parts itself rather than wait for the first.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Team threads that have called `work`, and those that run (past `JOINED`, each has set its
/// place in `THREADS`).
static JOINED: AtomicUsize = AtomicUsize::new(0);
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Parts the team's threads have run (not the caller's): how a host sees that they work.
static TAKEN: AtomicUsize = AtomicUsize::new(0);

/// How long a thread spins on `POSTED` before it sleeps: operators come in quick succession,
/// and waking a sleeping thread costs more than a short spin.
const SPIN: u32 = 1 << 18;

pub(super) fn running() -> usize {
    RUNNING.load(Ordering::Acquire)
}

/// How many parts the team's threads have run so far.
pub fn taken() -> usize {
    TAKEN.load(Ordering::Relaxed)
}

/// Claims the next part of the posted job, if one is left.
fn claim() -> Option<usize> {
    let mut word = CLAIM.load(Ordering::Acquire);
    loop {
        let (parts, next) = (word >> 16, word & 0xffff);
        if next >= parts {
            return None;
        }
        match CLAIM.compare_exchange_weak(word, word + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(next as usize),
            Err(now) => word = now,
        }
    }
}

/// Runs parts of the posted job while any is left; how many it ran. SAFETY of the job's use:
/// a part claimed is a part not yet finished, so the caller is still in `post`, its job alive.
fn take_parts() -> usize {
    let mut ran = 0;
    while let Some(i) = claim() {
        // SAFETY: see above; JOB was set before CLAIM (whose acquire the claim made).
        let job = unsafe { &*JOB.load(Ordering::Relaxed) };
        job.run(i);
        ran += 1;
    }
    ran
}

/// A team thread's life: takes parts of every job posted from now on, for good. A thread
/// past the most a team may have returns at once.
pub fn work() {
    let at = JOINED.fetch_add(1, Ordering::Relaxed);
    if at >= MOST_THREADS || THREADS[at].set(std::thread::current()).is_err() {
        return;
    }
    RUNNING.fetch_add(1, Ordering::Release);
    loop {
        let seen = POSTED.load(Ordering::SeqCst);
        TAKEN.fetch_add(take_parts(), Ordering::Relaxed);
        let mut spins = 0;
        while POSTED.load(Ordering::Acquire) == seen {
            if spins < SPIN {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            SLEEPING.fetch_add(1, Ordering::SeqCst);
            // Checked again once counted, so that a job posted in between is not slept through
            // (`post` bumps POSTED before it reads SLEEPING); an unpark that comes before the
            // park makes the park return at once.
            if POSTED.load(Ordering::SeqCst) == seen {
                std::thread::park();
            }
            SLEEPING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Runs `part(0)` to `part(parts - 1)`, each once, on the caller and whichever team threads
/// claim them; returns when all have run. A part's panic is raised again here, after that.
pub(super) fn post(parts: usize, part: &(dyn Fn(usize) + Sync)) {
    if parts > MOST_PARTS || BUSY.swap(true, Ordering::Acquire) {
        return (0..parts).for_each(part);
    }
    let job = Job { part, left: AtomicUsize::new(parts), panic: AtomicPtr::new(ptr::null_mut()) };
    // SAFETY of the lifetime: the job is reached only through claims, and this frame outlives
    // every claim (it waits for `left` to reach zero, and no part unwinds past `Job::run`).
    JOB.store((&raw const job).cast_mut().cast(), Ordering::Relaxed);
    CLAIM.store((parts as u32) << 16, Ordering::Release);
    POSTED.fetch_add(1, Ordering::SeqCst);
    if SLEEPING.load(Ordering::SeqCst) > 0 {
        // An unpark never blocks: a futex wake (`memory.atomic.notify` on wasm).
        THREADS.iter().filter_map(OnceLock::get).for_each(Thread::unpark);
    }
    take_parts();
    while job.left.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
    JOB.store(ptr::null_mut(), Ordering::Relaxed);
    BUSY.store(false, Ordering::Release);
    let panic = job.panic.load(Ordering::Acquire);
    if !panic.is_null() {
        // SAFETY: stored once by `Job::run`, from `Box::into_raw`, and taken once here.
        resume_unwind(*unsafe { Box::from_raw(panic) });
    }
}
