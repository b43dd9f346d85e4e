//! The threads build's pool: rayon threads that are Web Workers (or Node's worker_threads),
//! started by the JS layer, that run parts of operators (`edgeinfer_kernels::parts`).

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

/// The threads handed to `spawn` that have not yet run: `runThread` takes only these.
static WAITING: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Starts a pool of `n` threads: `spawn(pointer, module, memory)` must start a Worker that
/// instantiates `module` on `memory` and calls `runThread(pointer)`. Returns before they run:
/// operators split across only those that do (`edgeinfer_kernels::parts`), so that no
/// prediction waits for a Worker to start.
#[wasm_bindgen(js_name = startThreads)]
pub fn start_threads(n: usize, spawn: &js_sys::Function) -> Result<(), JsValue> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .spawn_handler(|thread| {
            let pointer = Box::into_raw(Box::new(thread)) as usize;
            WAITING.lock().unwrap_or_else(|e| e.into_inner()).push(pointer);
            let pointer = pointer as f64;
            let (module, memory) = (wasm_bindgen::module(), wasm_bindgen::memory());
            spawn
                .call3(&JsValue::NULL, &pointer.into(), &module, &memory)
                .map(|_| ())
                .map_err(|e| std::io::Error::other(format!("{e:?}")))
        })
        .build()
        .map_err(|e| JsValue::from_str(&format!("cannot start {n} threads: {e}")))?;
    edgeinfer_kernels::parts::set_pool(pool).map_err(|_| JsValue::from_str("the threads were started already"))
}

/// A pool thread's life, on the Worker `startThreads` had started for it. Any other number
/// is refused: it is not a thread's to take.
#[wasm_bindgen(js_name = runThread)]
pub fn run_thread(pointer: f64) -> bool {
    let pointer = pointer as usize;
    let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(at) = waiting.iter().position(|&p| p == pointer) else { return false };
    waiting.swap_remove(at);
    drop(waiting);
    // SAFETY: `pointer` is a box start_threads leaked for a thread, taken back once (it was
    // removed from WAITING above).
    let thread = unsafe { Box::from_raw(pointer as *mut rayon::ThreadBuilder) };
    edgeinfer_kernels::parts::thread_running();
    thread.run();
    true
}

/// Stops splitting operators for good: the JS layer lost a pool thread (its Worker died), and
/// a part sent to the pool might never come back.
#[wasm_bindgen(js_name = stopThreads)]
pub fn stop_threads() {
    edgeinfer_kernels::parts::lose_pool();
}
