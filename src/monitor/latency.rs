//! A latency histogram with log-spaced buckets (as DDSketch and HDR histograms do): every
//! quantile it reports is within 0.5% of the exact one, in constant memory and constant time
//! per observation, however many predictions it sees. A second, coarse set of fixed
//! boundaries feeds Prometheus, whose histograms need the same `le` values everywhere.
//!
//! Buckets are cut on an approximate base-2 logarithm read from the float's bits (its
//! exponent plus its mantissa as a fraction, DDSketch's "linearly interpolated mapping"):
//! no transcendental function per observation, which in wasm is a software `log`. Within an
//! octave a bucket spans 1/`PER_OCTAVE` of it, so its bounds differ by a factor of at most
//! 1 + 1/`PER_OCTAVE` and the bucket's estimate 2LU/(L + U) is within 0.5% of any value in it.

/// Buckets per doubling of the latency.
const PER_OCTAVE: f64 = 100.0;
/// The smallest duration told apart from zero: 0.1 µs; anything below counts as zero.
const MIN_US: f64 = 0.1;
/// The largest duration resolved: 1,000 s; longer ones share the last bucket (their exact
/// maximum is kept apart).
const MAX_US: f64 = 1e9;

/// Prometheus bucket boundaries, in seconds.
pub const PROMETHEUS_LE_S: [f64; 19] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    /// Observations per log bucket; `buckets.len()` is fixed at creation.
    buckets: Vec<u64>,
    /// Observations of zero (or below `MIN_US`): timers that did not advance.
    zero: u64,
    /// Observations per Prometheus bucket (not cumulative; the last is +Inf).
    coarse: [u64; PROMETHEUS_LE_S.len() + 1],
    count: u64,
    sum_us: f64,
    min_us: f64,
    max_us: f64,
}

/// The approximate log2 of `x` ≥ 1: exact at powers of two, linear in between, increasing.
fn approx_log2(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    let fraction = (bits & ((1u64 << 52) - 1)) as f64 / (1u64 << 52) as f64;
    exponent + fraction
}

/// The inverse of `approx_log2`.
fn approx_exp2(a: f64) -> f64 {
    let octave = a.floor();
    2f64.powi(octave as i32) * (1.0 + (a - octave))
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        let buckets = (approx_log2(MAX_US / MIN_US) * PER_OCTAVE).floor() as usize + 1;
        LatencyHistogram {
            buckets: vec![0; buckets],
            zero: 0,
            coarse: [0; PROMETHEUS_LE_S.len() + 1],
            count: 0,
            sum_us: 0.0,
            min_us: f64::INFINITY,
            max_us: 0.0,
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, latency_us: f64) {
        // A clock that went backwards, or NaN, is a zero: it must not poison the sums.
        let v = if latency_us.is_finite() && latency_us > 0.0 { latency_us } else { 0.0 };
        self.count += 1;
        self.sum_us += v;
        self.min_us = self.min_us.min(v);
        self.max_us = self.max_us.max(v);
        if v < MIN_US {
            self.zero += 1;
        } else {
            let i = (approx_log2(v / MIN_US) * PER_OCTAVE) as usize;
            let last = self.buckets.len() - 1;
            self.buckets[i.min(last)] += 1;
        }
        let seconds = v / 1e6;
        // A branch-free count: cheaper than a binary search over so few boundaries.
        let coarse = PROMETHEUS_LE_S.iter().map(|&le| usize::from(le < seconds)).sum::<usize>();
        self.coarse[coarse] += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum_us(&self) -> f64 {
        self.sum_us
    }

    pub fn min_us(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min_us)
    }

    pub fn max_us(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max_us)
    }

    /// The q-quantile (0 ≤ q ≤ 1): an estimate of the value of rank ⌊q·(n − 1)⌋ in sorted
    /// order, within 0.5% of it; `None` before the first observation.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        if rank < self.zero {
            return Some(self.min_us.clamp(0.0, MIN_US));
        }
        let mut seen = self.zero;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen > rank {
                if i == self.buckets.len() - 1 {
                    // The overflow bucket: only its maximum is known.
                    return Some(self.max_us);
                }
                let lower = MIN_US * approx_exp2(i as f64 / PER_OCTAVE);
                let upper = MIN_US * approx_exp2((i + 1) as f64 / PER_OCTAVE);
                let estimate = 2.0 * lower * upper / (lower + upper);
                return Some(estimate.clamp(self.min_us, self.max_us));
            }
        }
        Some(self.max_us)
    }

    /// Cumulative counts at each of `PROMETHEUS_LE_S`, then the total (+Inf).
    pub fn prometheus_buckets(&self) -> impl Iterator<Item = u64> + '_ {
        self.coarse.iter().scan(0u64, |acc, &n| {
            *acc += n;
            Some(*acc)
        })
    }

    /// Memory held, in buckets: constant from creation.
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator (xorshift64*) for the tests' samples.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed;
        move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_are_within_half_a_percent_of_the_exact_ones() {
        // Log-normal latencies around 20 µs with a long tail, and a bimodal mix.
        let mut u = uniform(42);
        let lognormal: Vec<f64> = (0..100_000)
            .map(|_| {
                let (a, b) = (u().max(1e-12), u());
                let z = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
                20.0 * (0.8 * z).exp()
            })
            .collect();
        let bimodal: Vec<f64> =
            (0..50_000).map(|i| if i % 10 == 0 { 5_000.0 + u() * 100.0 } else { 15.0 + u() * 3.0 }).collect();
        for sample in [lognormal, bimodal] {
            let mut h = LatencyHistogram::default();
            for &v in &sample {
                h.record(v);
            }
            let mut sorted = sample.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let (got, want) = (h.quantile_us(q).unwrap(), exact(&sorted, q));
                assert!((got - want).abs() <= 0.005 * want * (1.0 + 1e-9), "q{q}: {got} vs exact {want}");
            }
            assert_eq!(h.count(), sample.len() as u64);
        }
    }

    #[test]
    fn the_bit_mapping_is_monotone_and_its_inverse_exact() {
        let mut previous = 0.0;
        for i in 0..100_000 {
            let x = 1.0 + i as f64 * 0.013;
            let a = approx_log2(x);
            assert!(a >= previous, "{x}");
            previous = a;
            assert!((approx_exp2(a) - x).abs() <= 1e-12 * x, "{x}");
        }
        assert_eq!(approx_log2(8.0), 3.0);
        assert_eq!(approx_log2(12.0), 3.5);
    }

    #[test]
    fn zeros_and_extremes_are_counted_without_growing() {
        let mut h = LatencyHistogram::default();
        let buckets = h.bucket_count();
        assert_eq!(h.quantile_us(0.5), None);
        for v in [0.0, -3.0, f64::NAN, 0.05, 2e12, 10.0] {
            h.record(v);
        }
        assert_eq!(h.count(), 6);
        assert_eq!(h.quantile_us(0.0), Some(0.0));
        assert_eq!(h.quantile_us(1.0), Some(2e12));
        assert_eq!(h.bucket_count(), buckets);
        let cumulative: Vec<u64> = h.prometheus_buckets().collect();
        assert_eq!(cumulative.len(), PROMETHEUS_LE_S.len() + 1);
        assert_eq!(cumulative[0], 5, "four zeros and 10 µs are at most 10 µs");
        assert_eq!(*cumulative.last().unwrap(), 6);
    }
}
