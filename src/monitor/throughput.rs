//! Throughput over the last minute: sixty one-second slots on the caller's monotonic clock,
//! reused round-robin, so the rate costs constant memory and a few operations per call.

const SLOTS: usize = 60;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    second: i64,
    predictions: u64,
    rows: u64,
}

#[derive(Debug, Clone)]
pub struct Throughput {
    slots: [Slot; SLOTS],
    /// When the first prediction was seen (ms): the window is shorter until a minute has passed.
    started_ms: Option<f64>,
}

impl Default for Throughput {
    fn default() -> Self {
        Throughput { slots: [Slot { second: i64::MIN, ..Slot::default() }; SLOTS], started_ms: None }
    }
}

/// Predictions and rows per second over the window that ends now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub window_s: f64,
    pub predictions_per_s: f64,
    pub rows_per_s: f64,
}

impl Throughput {
    pub fn record(&mut self, now_ms: f64, rows: u64) {
        if !now_ms.is_finite() {
            return;
        }
        self.started_ms.get_or_insert(now_ms);
        let second = (now_ms / 1000.0).floor() as i64;
        let slot = &mut self.slots[second.rem_euclid(SLOTS as i64) as usize];
        if slot.second != second {
            *slot = Slot { second, predictions: 0, rows: 0 };
        }
        slot.predictions += 1;
        slot.rows += rows;
    }

    pub fn rate(&self, now_ms: f64) -> Rate {
        let Some(started) = self.started_ms.filter(|_| now_ms.is_finite()) else {
            return Rate { window_s: 0.0, predictions_per_s: 0.0, rows_per_s: 0.0 };
        };
        let now_s = (now_ms / 1000.0).floor() as i64;
        let (mut predictions, mut rows) = (0, 0);
        for slot in self.slots.iter().filter(|s| s.second > now_s - SLOTS as i64 && s.second <= now_s) {
            predictions += slot.predictions;
            rows += slot.rows;
        }
        let window_s = ((now_ms - started) / 1000.0).clamp(1.0, SLOTS as f64);
        Rate { window_s, predictions_per_s: predictions as f64 / window_s, rows_per_s: rows as f64 / window_s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_the_last_minute() {
        let mut t = Throughput::default();
        assert_eq!(t.rate(0.0).predictions_per_s, 0.0);
        // 10 predictions of 4 rows per second for two minutes.
        for i in 0..1200 {
            t.record(i as f64 * 100.0, 4);
        }
        let r = t.rate(119_999.0);
        assert_eq!(r.window_s, 60.0);
        assert!((r.predictions_per_s - 10.0).abs() < 1e-9, "{r:?}");
        assert!((r.rows_per_s - 40.0).abs() < 1e-9);
        // A minute of silence empties the window.
        assert_eq!(t.rate(200_000.0).predictions_per_s, 0.0);
        // Early on, the window is the time since the first prediction.
        let mut early = Throughput::default();
        for i in 0..50 {
            early.record(1000.0 + i as f64 * 100.0, 1);
        }
        let r = early.rate(6000.0);
        assert!((r.predictions_per_s - 10.0).abs() < 1e-9, "{r:?}");
    }
}
