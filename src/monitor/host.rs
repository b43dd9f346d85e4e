//! What the monitor needs from the platform and cannot get portably: clocks and entropy.
//! `std::time::Instant` panics on wasm32-unknown-unknown, so the binding reads
//! `performance.now()` and `Date.now()` from JS; native code and tests use `SystemHost` or
//! `ManualHost`.

pub trait Host {
    /// Milliseconds on a monotonic clock, for latencies and throughput.
    fn monotonic_ms(&mut self) -> f64;
    /// Milliseconds since the Unix epoch, for log timestamps.
    fn unix_ms(&mut self) -> f64;
    /// 32 bytes of the platform's entropy, asked for once per monitor: they seed the CSPRNG
    /// that makes prediction ids unguessable. `None` where the platform refuses randomness
    /// for now (a Worker while its module is evaluated); the next call asks again.
    fn seed(&mut self) -> Option<[u8; 32]>;
}

/// A host whose clocks move only when told: tests pass durations in.
#[derive(Debug, Clone)]
pub struct ManualHost {
    pub now_ms: f64,
    pub unix_ms: f64,
    pub seed: u64,
    /// Added to `now_ms` at every reading, so a call takes this long.
    pub step_ms: f64,
}

impl ManualHost {
    pub fn new(seed: u64) -> Self {
        ManualHost { now_ms: 0.0, unix_ms: 1_795_608_000_000.0, seed, step_ms: 0.0 }
    }
}

impl Host for ManualHost {
    fn monotonic_ms(&mut self) -> f64 {
        self.now_ms += self.step_ms;
        self.now_ms
    }

    fn unix_ms(&mut self) -> f64 {
        self.unix_ms + self.now_ms
    }

    fn seed(&mut self) -> Option<[u8; 32]> {
        let mut seed = [0; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&self.seed.to_le_bytes());
        }
        Some(seed)
    }
}

/// The operating system's clocks, where there is one.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone)]
pub struct SystemHost {
    started: std::time::Instant,
}

#[cfg(not(target_arch = "wasm32"))]
impl Default for SystemHost {
    fn default() -> Self {
        SystemHost { started: std::time::Instant::now() }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Host for SystemHost {
    fn monotonic_ms(&mut self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    fn unix_ms(&mut self) -> f64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    fn seed(&mut self) -> Option<[u8; 32]> {
        entropy()
    }
}

/// 32 bytes from the operating system, or on wasm from the platform's `crypto.getRandomValues`.
pub fn entropy() -> Option<[u8; 32]> {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed).ok().map(|()| seed)
}
