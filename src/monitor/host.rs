//! What the monitor needs from the platform and cannot get portably: clocks and a seed.
//! `std::time::Instant` panics on wasm32-unknown-unknown, so the binding reads
//! `performance.now()` and `Date.now()` from JS; native code and tests use `SystemHost` or
//! `ManualHost`.

pub trait Host {
    /// Milliseconds on a monotonic clock, for latencies and throughput.
    fn monotonic_ms(&mut self) -> f64;
    /// Milliseconds since the Unix epoch, for log timestamps.
    fn unix_ms(&mut self) -> f64;
    /// 64 random bits, asked for once per monitor (id prefixes, log sampling).
    fn seed(&mut self) -> u64;
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

    fn seed(&mut self) -> u64 {
        self.seed
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

    fn seed(&mut self) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS per process; mixing in the time separates monitors.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(self.started.elapsed().as_nanos());
        h.finish()
    }
}
