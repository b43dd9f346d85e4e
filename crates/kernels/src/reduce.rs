//! Sum, Max, Min, ArgMax and ArgMin of `x` seen as `[outer, n, inner]`, over the middle axis;
//! the extremes as onnxruntime computes them: a fold from the first element with a strict comparison, so a
//! NaN in first place is the answer and a NaN anywhere else is passed over; ties go to the
//! first index (or the last, with `last`). Sums and extremes split across the threads in
//! whole `[n, inner]` blocks (`crate::parts`), so each output is the same on any number.

use crate::parts;
use crate::simd::F32x4;

/// Checks that `x` is `[outer, n, inner]` and `out` `[outer, inner]`, with `n` at least 1.
fn check(x: usize, outer: usize, n: usize, inner: usize, out: usize) -> Result<(), String> {
    if n == 0 || x != outer * n * inner || out != outer * inner {
        return Err(format!(
            "reduction: {x} values are not [{outer}, {n}, {inner}], or {out} outputs not [{outer}, {inner}]"
        ));
    }
    Ok(())
}

/// The largest values: `greater` is `a > b`, or `a < b` for the smallest.
fn extreme(x: &[f32], outer: usize, n: usize, inner: usize, out: &mut [f32], smallest: bool) -> Result<(), String> {
    check(x.len(), outer, n, inner, out.len())?;
    by_blocks(x, outer, n, inner, out, |x, out| extreme_of(x, n, inner, out, smallest));
    Ok(())
}

/// Runs `f` on parts of whole blocks (`[n, inner]` inputs and their `[inner]` outputs) across
/// the threads the host gave the engine; checked by the caller.
fn by_blocks(x: &[f32], outer: usize, n: usize, inner: usize, out: &mut [f32], f: impl Fn(&[f32], &mut [f32]) + Sync) {
    if x.is_empty() {
        return;
    }
    let per = parts::per_part(x.len(), outer);
    let mut blocks: Vec<(&[f32], &mut [f32])> = x.chunks(per * n * inner).zip(out.chunks_mut(per * inner)).collect();
    parts::for_each_mut(&mut blocks, |_, (x, out)| f(x, out));
}

/// `extreme` of whole blocks.
fn extreme_of(x: &[f32], n: usize, inner: usize, out: &mut [f32], smallest: bool) {
    let wins = |v: f32, acc: f32| if smallest { v < acc } else { v > acc };
    if inner == 1 {
        for (row, y) in x.chunks_exact(n).zip(out.iter_mut()) {
            *y = row.iter().skip(1).fold(row[0], |acc, &v| if wins(v, acc) { v } else { acc });
        }
        return;
    }
    for (block, y) in x.chunks_exact(n * inner).zip(out.chunks_exact_mut(inner)) {
        y.copy_from_slice(&block[..inner]);
        for row in block.chunks_exact(inner).skip(1) {
            let mut ys = y.chunks_exact_mut(4);
            let mut vs = row.chunks_exact(4);
            for (a, v) in (&mut ys).zip(&mut vs) {
                let (a4, v4) = (F32x4::load(a), F32x4::load(v));
                if smallest { a4.keep_less(v4) } else { a4.keep_greater(v4) }.store(a);
            }
            for (a, &v) in ys.into_remainder().iter_mut().zip(vs.remainder()) {
                if wins(v, *a) {
                    *a = v;
                }
            }
        }
    }
}

/// The sums along the middle axis, added in order (row by row).
pub fn sum(x: &[f32], outer: usize, n: usize, inner: usize, out: &mut [f32]) -> Result<(), String> {
    check(x.len(), outer, n, inner, out.len())?;
    by_blocks(x, outer, n, inner, out, |x, out| sum_of(x, n, inner, out));
    Ok(())
}

/// `sum` of whole blocks.
fn sum_of(x: &[f32], n: usize, inner: usize, out: &mut [f32]) {
    for (block, y) in x.chunks_exact(n * inner).zip(out.chunks_exact_mut(inner)) {
        y.copy_from_slice(&block[..inner]);
        for row in block.chunks_exact(inner).skip(1) {
            let mut ys = y.chunks_exact_mut(4);
            let mut vs = row.chunks_exact(4);
            for (a, v) in (&mut ys).zip(&mut vs) {
                F32x4::load(a).add(F32x4::load(v)).store(a);
            }
            for (a, &v) in ys.into_remainder().iter_mut().zip(vs.remainder()) {
                *a += v;
            }
        }
    }
}

pub fn max(x: &[f32], outer: usize, n: usize, inner: usize, out: &mut [f32]) -> Result<(), String> {
    extreme(x, outer, n, inner, out, false)
}

pub fn min(x: &[f32], outer: usize, n: usize, inner: usize, out: &mut [f32]) -> Result<(), String> {
    extreme(x, outer, n, inner, out, true)
}

/// The index of each largest (`smallest`: smallest) value along the middle axis.
pub fn arg_extreme(
    x: &[f32],
    outer: usize,
    n: usize,
    inner: usize,
    smallest: bool,
    last: bool,
    out: &mut [i64],
) -> Result<(), String> {
    check(x.len(), outer, n, inner, out.len())?;
    let wins = |v: f32, acc: f32| match (smallest, last) {
        (false, false) => v > acc,
        (false, true) => v >= acc,
        (true, false) => v < acc,
        (true, true) => v <= acc,
    };
    let mut best = vec![0f32; inner];
    for (block, y) in x.chunks_exact(n * inner).zip(out.chunks_exact_mut(inner)) {
        best.copy_from_slice(&block[..inner]);
        y.fill(0);
        for (r, row) in block.chunks_exact(inner).enumerate().skip(1) {
            for ((b, i), &v) in best.iter_mut().zip(y.iter_mut()).zip(row) {
                if wins(v, *b) {
                    *b = v;
                    *i = r as i64;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f32 = f32::NAN;

    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn onnxruntime_answers_with_nan() {
        // onnxruntime 1.23's answers for this matrix (see the crate's doc).
        let x = [1.0, NAN, 3.0, 4.0, 5.0, NAN, NAN, 0.0, -1.0];
        let mut y = [0.0; 3];
        max(&x, 1, 3, 3, &mut y).unwrap();
        assert!(same(&y, &[4.0, NAN, 3.0]), "{y:?}");
        max(&x, 3, 3, 1, &mut y).unwrap();
        assert!(same(&y, &[3.0, 5.0, NAN]), "{y:?}");
        min(&x, 1, 3, 3, &mut y).unwrap();
        assert!(same(&y, &[1.0, NAN, -1.0]), "{y:?}");
        let mut i = [9i64; 3];
        arg_extreme(&x, 1, 3, 3, false, false, &mut i).unwrap();
        assert_eq!(i, [1, 0, 0]);
        arg_extreme(&x, 3, 3, 1, false, false, &mut i).unwrap();
        assert_eq!(i, [2, 1, 0]);
        arg_extreme(&x, 3, 3, 1, true, false, &mut i).unwrap();
        assert_eq!(i, [0, 0, 0]);
        let ties = [1.0, 3.0, 3.0, 2.0, 2.0, 2.0];
        let mut j = [9i64; 2];
        arg_extreme(&ties, 2, 3, 1, false, false, &mut j).unwrap();
        assert_eq!(j, [1, 0]);
        arg_extreme(&ties, 2, 3, 1, false, true, &mut j).unwrap();
        assert_eq!(j, [2, 2]);
    }

    #[test]
    fn wide_inner_axes_match_a_plain_fold() {
        let (outer, n, inner) = (3, 5, 11);
        let x: Vec<f32> =
            (0..outer * n * inner).map(|i| if i % 13 == 7 { NAN } else { ((i * 37) % 19) as f32 - 9.0 }).collect();
        for smallest in [false, true] {
            let mut ours = vec![0.0; outer * inner];
            extreme(&x, outer, n, inner, &mut ours, smallest).unwrap();
            let mut plain = Vec::new();
            for o in 0..outer {
                for i in 0..inner {
                    let col = (0..n).map(|r| x[(o * n + r) * inner + i]);
                    plain.push(col.clone().skip(1).fold(x[o * n * inner + i], |acc, v| {
                        if (smallest && v < acc) || (!smallest && v > acc) { v } else { acc }
                    }));
                }
            }
            assert!(same(&ours, &plain), "smallest {smallest}");
        }
        let mut sums = vec![0.0; outer * inner];
        let finite: Vec<f32> = x.iter().map(|v| if v.is_nan() { 0.25 } else { *v }).collect();
        sum(&finite, outer, n, inner, &mut sums).unwrap();
        for o in 0..outer {
            for i in 0..inner {
                let plain: f32 = (0..n).map(|r| finite[(o * n + r) * inner + i]).sum();
                assert_eq!(sums[o * inner + i], plain);
            }
        }
        assert!(max(&x, outer, n, inner, &mut [0.0; 5]).is_err());
        assert!(max(&[], 1, 0, 1, &mut [0.0; 1]).is_err());
    }

    #[cfg(feature = "threads")]
    type Reduction = fn(&[f32], usize, usize, usize, &mut [f32]) -> Result<(), String>;

    #[cfg(feature = "threads")]
    #[test]
    fn splits_give_the_same_bits() {
        // SqueezeNet's global pooling ([1000, 169, 1]) and a wide inner axis, past the split.
        for (outer, n, inner) in [(1000, 169, 1), (37, 64, 45)] {
            let x: Vec<f32> = (0..outer * n * inner).map(|i| ((i * 7919) % 1009) as f32 * 0.37 - 180.0).collect();
            let x = &x;
            let run = |f: Reduction| {
                move || {
                    let mut y = vec![0.0; outer * inner];
                    f(x, outer, n, inner, &mut y).unwrap();
                    y
                }
            };
            crate::parts::same_bits_on_threads("sum", run(sum));
            crate::parts::same_bits_on_threads("max", run(max));
            crate::parts::same_bits_on_threads("min", run(min));
        }
    }
}
