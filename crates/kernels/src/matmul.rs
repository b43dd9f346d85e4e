//! Products of two matrices that are both inputs (attention's queries by keys, and its
//! weights by values), laid out any way: the right one is packed into panels of sixteen
//! columns each call, the left one read in place when its rows are contiguous.

use crate::clamp::Clamp;
use crate::parts;
use crate::tile::{PANEL, block};

/// Where a matrix's element `(i, j)` lies: `i * rows + j * cols` from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strides {
    pub rows: usize,
    pub cols: usize,
}

/// `out` (`m x n`, row `i` at `i * ldc`) = `a` (`m x k`) · `b` (`k x n`). `panels` is reused
/// memory for the packed `b`, and for `a` when its rows are not contiguous.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    (a, sa): (&[f32], Strides),
    (b, sb): (&[f32], Strides),
    (m, k, n): (usize, usize, usize),
    out: &mut [f32],
    ldc: usize,
    panels: &mut Vec<f32>,
    rows: &mut Vec<f32>,
) -> Result<(), String> {
    let last = |s: Strides, r: usize, c: usize| (r > 0 && c > 0).then(|| (r - 1) * s.rows + (c - 1) * s.cols);
    let fits = |len: usize, s: Strides, r: usize, c: usize| last(s, r, c).is_none_or(|l| l < len);
    if !fits(a.len(), sa, m, k)
        || !fits(b.len(), sb, k, n)
        || (m > 0 && n > 0 && (out.len() < (m - 1) * ldc + n || (m > 1 && ldc < n)))
    {
        return Err(format!(
            "matmul: {} and {} values (strides {sa:?}, {sb:?}) into {} do not fit {m} x {k} by {k} x {n}",
            a.len(),
            b.len(),
            out.len()
        ));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        for i in 0..m {
            out[i * ldc..][..n].fill(0.0);
        }
        return Ok(());
    }
    panels.clear();
    panels.resize(n.div_ceil(PANEL) * k * PANEL, 0.0);
    for (p, panel) in panels.chunks_exact_mut(k * PANEL).enumerate() {
        for (kk, row) in panel.chunks_exact_mut(PANEL).enumerate() {
            for (j, v) in row.iter_mut().enumerate().take(n - p * PANEL) {
                *v = b[kk * sb.rows + (p * PANEL + j) * sb.cols];
            }
        }
    }
    let (a, lda) = if sa.cols == 1 {
        (a, sa.rows)
    } else {
        rows.clear();
        rows.extend((0..m).flat_map(|i| (0..k).map(move |kk| (i, kk))).map(|(i, kk)| a[i * sa.rows + kk * sa.cols]));
        (&rows[..], k)
    };
    let mut out: Vec<&mut [f32]> = out.chunks_mut(ldc.max(n)).take(m).collect();
    // Parts of whole pairs of rows, each with its own rows of `out`.
    let per = parts::per_part(m * n * k, m.div_ceil(2)) * 2;
    let mut parts: Vec<(usize, &mut [&mut [f32]])> =
        out.chunks_mut(per).enumerate().map(|(p, rows)| (p * per, rows)).collect();
    let panels = &panels[..];
    parts::for_each_mut(&mut parts, |_, (first, out)| {
        let mut i = 0;
        while i < out.len() {
            let count = (out.len() - i).min(2);
            for (p, panel) in panels.chunks_exact(k * PANEL).enumerate() {
                let (col, a) = (p * PANEL, &a[(*first + i) * lda..]);
                let cols = PANEL.min(n - col);
                block(a, lda, count, k, [0.0; 2], panel, PANEL, Clamp::NONE, &mut out[i..i + count], col, cols);
            }
            i += count;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts of rows, the last one short, on whatever thread: the same bits as one thread.
    #[cfg(feature = "threads")]
    #[test]
    fn parts_on_threads_give_the_same_bits() {
        for (m, k, n) in [(128, 32, 128), (33, 64, 77)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 13) % 23) as f32 * 0.0625 - 0.7).collect();
            let (sa, sb) = (Strides { rows: k, cols: 1 }, Strides { rows: n, cols: 1 });
            parts::same_bits_on_threads(&format!("{m}x{k}x{n}"), || {
                let mut out = vec![f32::NAN; m * n];
                matmul((&a, sa), (&b, sb), (m, k, n), &mut out, n, &mut Vec::new(), &mut Vec::new()).unwrap();
                out
            });
        }
    }

    #[test]
    fn products_in_any_layout_match_the_definition() {
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (128, 32, 128), (17, 33, 18), (2, 0, 3), (0, 4, 2)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 13) % 23) as f32 * 0.0625 - 0.7).collect();
            let mut expected = vec![0.0f32; m * n];
            for i in 0..m {
                for j in 0..n {
                    expected[i * n + j] = (0..k).map(|kk| a[i * k + kk] * b[kk * n + j]).sum();
                }
            }
            // Each operand as given (row-major) and transposed (column-major).
            let at: Vec<f32> = (0..m * k).map(|x| a[(x % m) * k + x / m]).collect();
            let bt: Vec<f32> = (0..k * n).map(|x| b[(x % k) * n + x / k]).collect();
            for (a, sa) in [(&a, Strides { rows: k, cols: 1 }), (&at, Strides { rows: 1, cols: m })] {
                for (b, sb) in [(&b, Strides { rows: n, cols: 1 }), (&bt, Strides { rows: 1, cols: k })] {
                    let ldc = n + 3;
                    let mut out = vec![f32::NAN; m * ldc];
                    matmul((a, sa), (b, sb), (m, k, n), &mut out, ldc, &mut Vec::new(), &mut Vec::new()).unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let (x, e) = (out[i * ldc + j], expected[i * n + j]);
                            assert!(
                                (x - e).abs() <= 1e-4 * (1.0 + e.abs()),
                                "{m}x{k}x{n} {sa:?} {sb:?} [{i},{j}]: {x} against {e}"
                            );
                        }
                    }
                }
            }
        }
        let s = Strides { rows: 2, cols: 1 };
        assert!(
            matmul((&[1.0; 3], s), (&[1.0; 4], s), (2, 2, 2), &mut [0.0; 4], 2, &mut Vec::new(), &mut Vec::new())
                .is_err()
        );
    }
}
