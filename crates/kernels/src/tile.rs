//! The matrix kernel convolutions and products share: one or two rows of a left matrix
//! (read in place, a value at a time) by a panel of up to sixteen columns of a right one
//! (each of its rows sixteen values side by side). Eight four-lane sums, four loads of the
//! panel and two broadcast values fit x86's sixteen vector registers; V8 spills anything
//! larger, and tract's 8x8 kernel (sixteen sums) ran at about two thirds of this speed in
//! it (docs/engine.md).

use crate::clamp::Clamp;
use crate::simd::F32x4;

/// Columns per panel: four lanes of four.
pub(crate) const PANEL: usize = 16;

/// `out[r][col..][..cols]` = `bias[r]` + row `r` of `a` (`depth` values, rows `lda` apart;
/// `rows` of them, 1 or 2) times the panel whose row `k` is `b[k * stride..][..16]`, then
/// `clamp`. Only the lanes the first `cols` columns need are computed. The output comes as
/// rows, not one slice with a stride, so that threads can each own a part of every row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn block(
    a: &[f32],
    lda: usize,
    rows: usize,
    depth: usize,
    bias: [f32; 2],
    b: &[f32],
    stride: usize,
    clamp: Clamp,
    out: &mut [&mut [f32]],
    col: usize,
    cols: usize,
) {
    let row = |r: usize| &a[r * lda..][..depth];
    match (rows, cols.div_ceil(4)) {
        (2, 4) => tile::<2, 4>([row(0), row(1)], bias, b, stride, clamp, out, col, cols),
        (2, 3) => tile::<2, 3>([row(0), row(1)], bias, b, stride, clamp, out, col, cols),
        (2, 2) => tile::<2, 2>([row(0), row(1)], bias, b, stride, clamp, out, col, cols),
        (2, _) => tile::<2, 1>([row(0), row(1)], bias, b, stride, clamp, out, col, cols),
        (_, 4) => tile::<1, 4>([row(0)], [bias[0]], b, stride, clamp, out, col, cols),
        (_, 3) => tile::<1, 3>([row(0)], [bias[0]], b, stride, clamp, out, col, cols),
        (_, 2) => tile::<1, 2>([row(0)], [bias[0]], b, stride, clamp, out, col, cols),
        (_, _) => tile::<1, 1>([row(0)], [bias[0]], b, stride, clamp, out, col, cols),
    }
}

/// `R` rows by `4 V` columns.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile<const R: usize, const V: usize>(
    a: [&[f32]; R],
    bias: [f32; R],
    b: &[f32],
    stride: usize,
    clamp: Clamp,
    out: &mut [&mut [f32]],
    col: usize,
    cols: usize,
) {
    let mut acc = bias.map(|b| [F32x4::splat(b); V]);
    let depth = a[0].len();
    let a = a.map(|row| &row[..depth]);
    // Checked once here rather than at every step: the checks were a fifth of the loop.
    assert!(depth == 0 || b.len() >= (depth - 1) * stride + PANEL);
    for kk in 0..depth {
        // SAFETY: kk < depth, so the row ends at most at (depth - 1) * stride + PANEL,
        // within `b` as asserted above.
        let row: &[f32; PANEL] = unsafe { b.get_unchecked(kk * stride..kk * stride + PANEL) }.try_into().unwrap();
        let b: [F32x4; V] = std::array::from_fn(|v| F32x4::load(&row[v * 4..v * 4 + 4]));
        for r in 0..R {
            // SAFETY: every row of `a` was cut to `depth` values above, and kk < depth.
            let s = F32x4::splat(unsafe { *a[r].get_unchecked(kk) });
            for (acc, b) in acc[r].iter_mut().zip(b) {
                *acc = acc.mul_add(s, b);
            }
        }
    }
    for (r, acc) in acc.into_iter().enumerate() {
        let out = &mut out[r][col..][..cols];
        if cols == 4 * V {
            for (v, o) in acc.iter().zip(out.chunks_exact_mut(4)) {
                clamp.lanes(*v).store(o);
            }
        } else {
            let mut t = [0.0f32; PANEL];
            for (v, o) in acc.iter().zip(t.chunks_exact_mut(4)) {
                clamp.lanes(*v).store(o);
            }
            out.copy_from_slice(&t[..cols]);
        }
    }
}
