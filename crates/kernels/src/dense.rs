//! Products with constant weights, `y = x · W + b` then an optional ReLU, over rows of `x`:
//! the dense layers of tabular models, recurrent cells and recommenders, where `x` has a few
//! rows. tract packs `x` on every call and runs a kernel made for large products; here the
//! weights are packed once, in panels of eight columns, and `x` is read where it lies, up to
//! four rows at a time, with the bias and the ReLU applied before the results are stored.

use crate::clamp::Clamp;
use crate::parts;
use crate::simd::F32x4;

/// Columns per panel: two lanes of four.
const PANEL: usize = 8;

/// `W` (`k x n`, row-major) laid out for `matmul`: panel `p` holds columns `8p..8p+8` as
/// `k` rows of eight, zero past `n`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    k: usize,
    n: usize,
    panels: Vec<f32>,
}

impl Weights {
    /// Packs `w`, `k x n` row-major, or `n x k` row-major (`transposed`, as Gemm's transB gives).
    pub fn new(w: &[f32], k: usize, n: usize, transposed: bool) -> Result<Weights, String> {
        if w.len() != k * n {
            return Err(format!("weights of {} values are not {k} x {n}", w.len()));
        }
        let panels = n.div_ceil(PANEL);
        let mut packed = vec![0.0; panels * k * PANEL];
        for (j, col) in (0..n).map(|j| (j, j / PANEL)) {
            for kk in 0..k {
                let v = if transposed { w[j * k + kk] } else { w[kk * n + j] };
                packed[(col * k + kk) * PANEL + j % PANEL] = v;
            }
        }
        Ok(Weights { k, n, panels: packed })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }
}

/// `out` (`m x n`) = `x` (`m x k`) · `w` + `bias` (`n` values, if any), then `clamp`.
pub fn matmul(
    x: &[f32],
    m: usize,
    w: &Weights,
    bias: Option<&[f32]>,
    clamp: Clamp,
    out: &mut [f32],
) -> Result<(), String> {
    let (k, n) = (w.k, w.n);
    if x.len() != m * k || out.len() != m * n || bias.is_some_and(|b| b.len() != n) {
        return Err(format!(
            "dense: {} inputs, {} outputs and {:?} biases for {m} rows of {k} x {n}",
            x.len(),
            out.len(),
            bias.map(<[f32]>::len)
        ));
    }
    if k == 0 {
        // An empty sum: each row is the bias, clamped.
        for row in out.chunks_exact_mut(n.max(1)) {
            for (j, y) in row.iter_mut().enumerate() {
                *y = clamp.one(bias.map_or(0.0, |b| b[j]));
            }
        }
        return Ok(());
    }
    // Parts of whole groups of four rows, each with its own rows of `x` and of `out`.
    let per = parts::per_part(m * n * k, m.div_ceil(4)) * 4;
    if per < m {
        let mut parts: Vec<(&[f32], &mut [f32])> = x.chunks(per * k).zip(out.chunks_mut(per * n)).collect();
        parts::for_each_mut(&mut parts, |_, (xs, ys)| all_rows(xs, ys.len() / n, w, bias, clamp, ys));
    } else {
        all_rows(x, m, w, bias, clamp, out);
    }
    Ok(())
}

/// `matmul`'s `m` rows, four at a time.
fn all_rows(x: &[f32], m: usize, w: &Weights, bias: Option<&[f32]>, clamp: Clamp, out: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    let mut row = 0;
    while row < m {
        let (xs, ys) = (&x[row * k..], &mut out[row * n..]);
        // Four rows share each load of the weights: more accumulators than x86's sixteen vector
        // registers hold, and V8 spills them (docs/engine.md).
        row += match m - row {
            1 => rows::<1>(xs, w, bias, clamp, ys),
            2 => rows::<2>(xs, w, bias, clamp, ys),
            3 => rows::<3>(xs, w, bias, clamp, ys),
            _ => rows::<4>(xs, w, bias, clamp, ys),
        };
    }
}

/// `R` rows, every panel; returns `R`.
#[inline(always)]
fn rows<const R: usize>(x: &[f32], w: &Weights, bias: Option<&[f32]>, clamp: Clamp, out: &mut [f32]) -> usize {
    let (k, n) = (w.k, w.n);
    let x: [&[f32]; R] = std::array::from_fn(|r| &x[r * k..][..k]);
    for (p, panel) in w.panels.chunks_exact(k * PANEL).enumerate() {
        let col = p * PANEL;
        let width = PANEL.min(n - col);
        let mut b = [0.0f32; PANEL];
        if let Some(bias) = bias {
            b[..width].copy_from_slice(&bias[col..col + width]);
        }
        let (b0, b1) = (F32x4::load(&b[..4]), F32x4::load(&b[4..]));
        let mut acc = [[b0, b1]; R];
        for (kk, wk) in panel.chunks_exact(PANEL).enumerate() {
            let (w0, w1) = (F32x4::load(&wk[..4]), F32x4::load(&wk[4..]));
            for r in 0..R {
                // SAFETY: a panel is `k` rows, so kk < k, the length of every row of `x`.
                // Indexing checked each of them at every step, a fifth of the loop.
                let s = F32x4::splat(unsafe { *x[r].get_unchecked(kk) });
                acc[r][0] = acc[r][0].mul_add(s, w0);
                acc[r][1] = acc[r][1].mul_add(s, w1);
            }
        }
        for (r, [lo, hi]) in acc.into_iter().enumerate() {
            let (lo, hi) = (clamp.lanes(lo), clamp.lanes(hi));
            let y = &mut out[r * n + col..];
            if width == PANEL {
                lo.store(&mut y[..4]);
                hi.store(&mut y[4..8]);
            } else {
                let mut t = [0.0f32; PANEL];
                lo.store(&mut t[..4]);
                hi.store(&mut t[4..]);
                y[..width].copy_from_slice(&t[..width]);
            }
        }
    }
    R
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], m: usize, w: &[f32], k: usize, n: usize, bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for r in 0..m {
            for j in 0..n {
                let mut s = bias.map_or(0.0, |b| b[j]);
                for kk in 0..k {
                    s += x[r * k + kk] * w[kk * n + j];
                }
                out[r * n + j] = if relu && !s.is_nan() { s.max(0.0) } else { s };
            }
        }
        out
    }

    #[test]
    fn products_match_the_definition() {
        for (m, k, n) in [
            (1, 32, 64),
            (2, 64, 1663),
            (3, 7, 5),
            (5, 16, 9),
            (9, 1, 1),
            (4, 64, 1),
            (0, 3, 4),
            (13, 20, 17),
            (2, 0, 9),
        ] {
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 13) % 23) as f32 * 0.0625 - 0.7).collect();
            let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01 - 0.2).collect();
            for (b, relu) in [(None, false), (Some(&bias[..]), true)] {
                let expected = reference(&x, m, &w, k, n, b, relu);
                let act = if relu { Clamp::RELU } else { Clamp::NONE };
                for (packed, label) in [
                    (Weights::new(&w, k, n, false).unwrap(), "k x n"),
                    (Weights::new(&wt, k, n, true).unwrap(), "n x k"),
                ] {
                    let mut out = vec![f32::NAN; m * n];
                    matmul(&x, m, &packed, b, act, &mut out).unwrap();
                    for (i, (a, e)) in out.iter().zip(&expected).enumerate() {
                        assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "{m}x{k}x{n} {label} [{i}]: {a} against {e}");
                    }
                }
            }
        }
    }

    /// Parts of rows, the last one short, on whatever thread: the same bits as one thread.
    #[cfg(feature = "threads")]
    #[test]
    fn parts_on_threads_give_the_same_bits() {
        for (m, k, n) in [(128, 384, 96), (37, 64, 200), (5, 1000, 70)] {
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0).collect();
            let w: Vec<f32> = (0..k * n).map(|i| ((i * 13) % 23) as f32 * 0.0625 - 0.7).collect();
            let packed = Weights::new(&w, k, n, false).unwrap();
            parts::same_bits_on_threads(&format!("{m}x{k}x{n}"), || {
                let mut out = vec![f32::NAN; m * n];
                matmul(&x, m, &packed, None, Clamp::RELU, &mut out).unwrap();
                out
            });
        }
    }

    #[test]
    fn nan_passes_through_the_relu_and_shapes_are_checked() {
        let w = Weights::new(&[1.0, 2.0], 1, 2, false).unwrap();
        let mut out = [0.0; 4];
        matmul(&[f32::NAN, -1.0], 2, &w, None, Clamp::RELU, &mut out).unwrap();
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], [0.0, 0.0]);
        assert!(matmul(&[1.0; 3], 2, &w, None, Clamp::NONE, &mut out).is_err());
        assert!(matmul(&[1.0; 2], 2, &w, Some(&[1.0]), Clamp::NONE, &mut out).is_err());
        assert!(Weights::new(&[1.0; 5], 2, 3, false).is_err());
    }
}
