//! The statistics drift detection rests on: divergences between two binned distributions
//! (how far apart they are) and the p-values of the tests that say whether a difference is
//! more than the sampling noise of a window of that size.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients; relative error below 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Q(a, x) = Γ(a, x) / Γ(a), the regularised upper incomplete gamma function: a series
/// below x = a + 1, Lentz's continued fraction above (Numerical Recipes §6.2).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let ln_prefix = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_prefix.exp()).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_prefix.exp() * h).clamp(0.0, 1.0)
    }
}

/// P(X ≥ statistic) for X chi-squared with `df` degrees of freedom.
pub fn chi2_sf(statistic: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, statistic / 2.0)
}

/// The value a chi-squared variable with `df` degrees of freedom exceeds with probability
/// `upper` (bisection on `chi2_sf`, which is monotone).
pub fn chi2_quantile_upper(upper: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, df.max(1.0));
    while chi2_sf(hi, df) > upper && hi < 1e9 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if chi2_sf(mid, df) > upper {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// P(D ≥ d) for the Kolmogorov-Smirnov statistic of samples with effective size `n`
/// (n·m/(n+m) for two samples), from the asymptotic Kolmogorov distribution with Stephens'
/// small-sample correction (Numerical Recipes §14.3).
pub fn ks_sf(d: f64, n: f64) -> f64 {
    if n.is_nan() || n <= 0.0 || d.is_nan() {
        return f64::NAN;
    }
    let sqrt_n = n.sqrt();
    let lambda = (sqrt_n + 0.12 + 0.11 / sqrt_n) * d;
    if lambda < 0.2 {
        // The series converges too slowly here, and the answer is 1 to 15 digits anyway.
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    let mut previous = 0.0_f64;
    for k in 1..=100 {
        let k = k as f64;
        let term = sign * 2.0 * (-2.0 * k * k * lambda * lambda).exp();
        sum += term;
        if term.abs() <= 1e-12 * previous.abs() || term.abs() <= 1e-300 {
            break;
        }
        previous = term;
        sign = -sign;
    }
    sum.clamp(0.0, 1.0)
}

/// Proportions of `counts` with `pseudo` added to each bin, so that an empty bin does not
/// make a log-ratio infinite.
pub fn smoothed(counts: &[f64], pseudo: f64) -> Vec<f64> {
    let total: f64 = counts.iter().sum::<f64>() + pseudo * counts.len() as f64;
    if total <= 0.0 {
        return vec![0.0; counts.len()];
    }
    counts.iter().map(|c| (c + pseudo) / total).collect()
}

/// Population stability index Σ (p − q) ln(p / q) of two distributions over the same bins
/// (both smoothed, so strictly positive).
pub fn psi(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).filter(|(a, b)| **a > 0.0 && **b > 0.0).map(|(a, b)| (a - b) * (a / b).ln()).sum()
}

/// Jensen-Shannon distance (the square root of the divergence, base 2): 0 for identical
/// distributions, 1 for disjoint ones, and a metric.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let kl = |a: f64, m: f64| if a > 0.0 && m > 0.0 { a * (a / m).log2() } else { 0.0 };
    let divergence: f64 = p
        .iter()
        .zip(q)
        .map(|(&a, &b)| {
            let m = 0.5 * (a + b);
            0.5 * kl(a, m) + 0.5 * kl(b, m)
        })
        .sum();
    divergence.max(0.0).sqrt()
}

/// The largest gap between two cumulative distributions given as bin proportions.
pub fn ks_statistic(p: &[f64], q: &[f64]) -> f64 {
    let (mut cp, mut cq, mut d) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (a, b) in p.iter().zip(q) {
        cp += a;
        cq += b;
        d = d.max((cp - cq).abs());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1e-300), "{a} vs {b}");
    }

    // Reference values from scipy.special / scipy.stats (gammaln, chi2.sf, kstwobign.sf).
    #[test]
    fn gamma_functions_match_scipy() {
        near(ln_gamma(0.5), 0.572_364_942_924_7, 1e-13);
        near(ln_gamma(10.0), 12.801_827_480_081_469, 1e-13);
        near(ln_gamma(100.5), 361.435_540_467_777_57, 1e-13);
        near(chi2_sf(3.84, 1.0), 0.050_043_521_248_705_19, 1e-9);
        near(chi2_sf(30.0, 19.0), 0.051_798_458_893_023_89, 1e-9);
        near(chi2_sf(2.0, 10.0), 0.996_340_153_172_656_2, 1e-9);
        near(chi2_sf(200.0, 10.0), 1.613_930_533_697_731_7e-37, 1e-6);
        near(chi2_quantile_upper(0.01, 19.0), 36.190_869_129_270_05, 1e-9);
    }

    #[test]
    fn kolmogorov_tail_matches_the_asymptotic_distribution() {
        // With n huge the correction vanishes: kstwobign.sf(1.0) = 0.26999967167735456.
        near(ks_sf(1.0 / 1e6_f64.sqrt(), 1e6), 0.269_999_671_677_354_56, 1e-3);
        near(ks_sf(1.36 / 1e8_f64.sqrt(), 1e8), 0.049_485_876_755_377_876, 1e-3);
        assert_eq!(ks_sf(0.0, 100.0), 1.0);
        assert!(ks_sf(0.5, 1000.0) < 1e-100);
    }

    #[test]
    fn divergences_of_identical_and_disjoint_distributions() {
        let p = [0.25, 0.25, 0.5];
        assert_eq!(psi(&p, &p), 0.0);
        assert_eq!(jensen_shannon(&p, &p), 0.0);
        near(jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]), 1.0, 1e-12);
        assert_eq!(ks_statistic(&[1.0, 0.0], &[0.0, 1.0]), 1.0);
        let s = smoothed(&[0.0, 10.0], 0.5);
        near(s[0], 0.5 / 11.0, 1e-12);
        assert!(psi(&smoothed(&[9.0, 1.0], 0.5), &smoothed(&[1.0, 9.0], 0.5)) > 1.0);
    }
}
