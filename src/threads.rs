//! The threads build's team: threads that are Web Workers (or Node's worker_threads), started
//! by the JS layer, that take parts of operators (`edgeinfer_kernels::parts`).

use std::sync::atomic::{AtomicUsize, Ordering};

use edgeinfer_kernels::parts;
use wasm_bindgen::prelude::*;

/// Threads handed to `spawn` that have not yet called `runThread`.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Starts a team of `n` threads: `spawn(module, memory)` must start a Worker that
/// instantiates `module` on `memory` and calls `runThread()`. Returns before they run:
/// operators split across only those that do, so that no prediction waits for a Worker.
#[wasm_bindgen(js_name = startThreads)]
pub fn start_threads(n: usize, spawn: &js_sys::Function) -> Result<(), JsValue> {
    if !parts::set_team(n) {
        return Err(JsValue::from_str("the threads were started already"));
    }
    let (module, memory) = (wasm_bindgen::module(), wasm_bindgen::memory());
    for _ in 0..n {
        WAITING.fetch_add(1, Ordering::AcqRel);
        spawn.call2(&JsValue::NULL, &module, &memory)?;
    }
    Ok(())
}

/// A team thread's life, on a Worker `startThreads` had started: it never returns there.
/// Anywhere else it returns at once: there is no thread of the team's waiting to run.
#[wasm_bindgen(js_name = runThread)]
pub fn run_thread() {
    if WAITING.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok() {
        parts::team::work();
    }
}

/// Stops splitting operators for good: the JS layer lost a team thread (its Worker died), and
/// a part it had claimed will never finish.
#[wasm_bindgen(js_name = stopThreads)]
pub fn stop_threads() {
    parts::lose_team();
}

/// The team's threads that run, and the parts they have taken so far: `[running, taken]`.
#[wasm_bindgen(js_name = threadsAtWork)]
pub fn threads_at_work() -> Vec<f64> {
    vec![parts::running() as f64, parts::team::taken() as f64]
}
