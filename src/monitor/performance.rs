//! Performance of one model: predictions, failures by error code, latency, batch sizes and
//! throughput. Everything here is a fixed-size counter or histogram: a million predictions
//! cost no more memory than one.

use serde::Serialize;

use super::latency::LatencyHistogram;
use super::throughput::Throughput;

/// Batch-size buckets: ≤ 1, ≤ 2, ≤ 4, ..., ≤ 4096, then larger.
pub const BATCH_LE: [u64; 13] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

#[derive(Debug, Clone, Default)]
pub struct BatchSizes {
    /// Per bucket of `BATCH_LE`, then the overflow bucket (not cumulative).
    counts: [u64; BATCH_LE.len() + 1],
    sum: u64,
    max: u64,
}

impl BatchSizes {
    fn record(&mut self, rows: u64) {
        // The smallest k with rows ≤ 2^k, from the bit length of rows − 1.
        let k = (u64::BITS - rows.saturating_sub(1).leading_zeros()) as usize;
        self.counts[k.min(BATCH_LE.len())] += 1;
        self.sum = self.sum.saturating_add(rows);
        self.max = self.max.max(rows);
    }

    /// Cumulative counts at each of `BATCH_LE`, then the total.
    pub fn cumulative(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts.iter().scan(0u64, |acc, &n| {
            *acc += n;
            Some(*acc)
        })
    }

    pub fn sum(&self) -> u64 {
        self.sum
    }
}

#[derive(Debug, Clone, Default)]
pub struct Performance {
    pub predictions: u64,
    pub rows: u64,
    /// Failed calls by error code; the codes are a closed set, so this stays small.
    pub errors: Vec<(&'static str, u64)>,
    pub latency: LatencyHistogram,
    pub batch: BatchSizes,
    pub throughput: Throughput,
}

impl Performance {
    pub fn record_success(&mut self, rows: u64, latency_us: f64, now_ms: f64) {
        self.predictions += 1;
        self.rows = self.rows.saturating_add(rows);
        self.latency.record(latency_us);
        self.batch.record(rows);
        self.throughput.record(now_ms, rows);
    }

    pub fn record_error(&mut self, code: &'static str) {
        match self.errors.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((code, 1)),
        }
    }

    pub fn error_total(&self) -> u64 {
        self.errors.iter().map(|(_, n)| n).sum()
    }

    pub fn stats(&self, now_ms: f64) -> PerformanceStats {
        let ms = |us: Option<f64>| us.map(|v| v / 1000.0);
        let h = &self.latency;
        let rate = self.throughput.rate(now_ms);
        PerformanceStats {
            predictions: self.predictions,
            rows: self.rows,
            errors: ErrorStats {
                total: self.error_total(),
                by_code: self.errors.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            },
            latency_ms: LatencyStats {
                count: h.count(),
                mean: (h.count() > 0).then(|| h.sum_us() / h.count() as f64 / 1000.0),
                min: ms(h.min_us()),
                p50: ms(h.quantile_us(0.5)),
                p90: ms(h.quantile_us(0.9)),
                p99: ms(h.quantile_us(0.99)),
                max: ms(h.max_us()),
            },
            batch_size: BatchStats {
                mean: (self.predictions > 0).then(|| self.batch.sum as f64 / self.predictions as f64),
                max: self.batch.max,
                histogram: BATCH_LE
                    .iter()
                    .map(|&le| le as f64)
                    .chain([f64::INFINITY])
                    .zip(self.batch.cumulative())
                    .map(|(le, count)| Bucket { le: if le.is_finite() { Some(le) } else { None }, count })
                    .collect(),
            },
            throughput: ThroughputStats {
                window_seconds: rate.window_s,
                predictions_per_second: rate.predictions_per_s,
                rows_per_second: rate.rows_per_s,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceStats {
    pub predictions: u64,
    pub rows: u64,
    pub errors: ErrorStats,
    pub latency_ms: LatencyStats,
    pub batch_size: BatchStats,
    pub throughput: ThroughputStats,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorStats {
    pub total: u64,
    pub by_code: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyStats {
    pub count: u64,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchStats {
    pub mean: Option<f64>,
    pub max: u64,
    /// Cumulative: predictions with at most `le` rows; the last (`le: null`) is all of them.
    pub histogram: Vec<Bucket>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub le: Option<f64>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThroughputStats {
    pub window_seconds: f64,
    pub predictions_per_second: f64,
    pub rows_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_and_batch_sizes() {
        let mut p = Performance::default();
        for (i, rows) in [1u64, 1, 3, 8, 5000].into_iter().enumerate() {
            p.record_success(rows, 10.0 * (i + 1) as f64, i as f64 * 1000.0);
        }
        p.record_error("E_INPUT_SHAPE");
        p.record_error("E_INPUT_SHAPE");
        p.record_error("E_RUNTIME");
        let s = p.stats(4000.0);
        assert_eq!((s.predictions, s.rows), (5, 5013));
        assert_eq!(s.errors.total, 3);
        assert_eq!(s.errors.by_code.get("E_INPUT_SHAPE"), Some(&2));
        let cumulative: Vec<u64> = s.batch_size.histogram.iter().map(|b| b.count).collect();
        assert_eq!(&cumulative[..5], &[2, 2, 3, 4, 4]);
        assert_eq!(*cumulative.last().unwrap(), 5);
        assert_eq!(s.batch_size.max, 5000);
        assert_eq!(s.latency_ms.count, 5);
        assert!((s.latency_ms.max.unwrap() - 0.05).abs() < 1e-12);
        assert!((s.latency_ms.p50.unwrap() - 0.03).abs() <= 0.03 * 0.01);
    }
}
