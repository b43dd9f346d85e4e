//! Max and average pooling over NCHW planes. Max pooling is as onnxruntime-web computes it:
//! each output is the largest input its window covers, NaN if any of them is NaN (wasm's
//! `f32x4.max`; onnxruntime's CPU build answers with whatever its SIMD lane order leaves),
//! and `f32::MIN` for a window that covers nothing but padding (or -inf). The window is
//! separable: rows are pooled down, then across.

use crate::parts;
use crate::simd::{self, F32x4};
use crate::window::Axis;

/// What a window's values make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// The largest.
    Max,
    /// The sum.
    Sum,
    /// The mean, over the values inside the input, or over the whole window (padding counted
    /// as zeros) when `count_padding`.
    Mean { count_padding: bool },
}

/// Pools `planes` planes of `input` (each `y.input x x.input`) into `output` (each
/// `y.output x x.output`). Fails when the slices are not those sizes or a stride is 0.
///
/// Each output row is made from the input rows its windows cover, down first (a full-width
/// row, four lanes at a time, each input value read once), then across: four outputs at a
/// time from the padded row, every other value picked out by a shuffle when the stride is
/// 2, so that neither pass writes more than it keeps.
pub fn pool_2d(input: &[f32], planes: usize, y: Axis, x: Axis, pool: Pool, output: &mut [f32]) -> Result<(), String> {
    if input.len() != planes * y.input * x.input
        || output.len() != planes * y.output * x.output
        || y.stride == 0
        || x.stride == 0
    {
        return Err(format!(
            "pooling: {} inputs and {} outputs do not fit {planes} planes of {y:?} x {x:?}",
            input.len(),
            output.len()
        ));
    }
    if x.output == 0 || y.output == 0 {
        return Ok(());
    }
    match pool {
        Pool::Max => pool_with(input, y, x, pool, f32::MIN, Largest, output),
        Pool::Sum | Pool::Mean { .. } => pool_with(input, y, x, pool, 0.0, Sum, output),
    }
    Ok(())
}

/// How a window's values combine, four lanes at a time (`Acc` is the running value) or
/// two alone.
trait Fold: Copy + Sync {
    type Acc: Copy;
    fn start(self, x: F32x4) -> Self::Acc;
    fn step(self, acc: Self::Acc, x: F32x4) -> Self::Acc;
    fn end(self, acc: Self::Acc) -> F32x4;
    fn one(self, a: f32, b: f32) -> f32;
}

/// The largest value, NaN if any is NaN (as wasm's `f32x4.max` and onnxruntime-web answer).
/// The lanes keep the largest with `pmax`, which drops NaN, and the NaN lanes seen are
/// noted apart and put back at the end: three instructions a value on x86 where `max` is
/// eight.
#[derive(Clone, Copy)]
struct Largest;

impl Fold for Largest {
    /// The largest value that is not NaN, and the lanes NaN was seen in.
    type Acc = (F32x4, F32x4);
    #[inline(always)]
    fn start(self, x: F32x4) -> Self::Acc {
        (x, x.nan_lanes())
    }
    #[inline(always)]
    fn step(self, (largest, nan): Self::Acc, x: F32x4) -> Self::Acc {
        (largest.keep_greater(x), nan.or(x.nan_lanes()))
    }
    #[inline(always)]
    fn end(self, (largest, nan): Self::Acc) -> F32x4 {
        largest.nan_where(nan)
    }
    #[inline(always)]
    fn one(self, a: f32, b: f32) -> f32 {
        simd::max(a, b)
    }
}

#[derive(Clone, Copy)]
struct Sum;

impl Fold for Sum {
    type Acc = F32x4;
    #[inline(always)]
    fn start(self, x: F32x4) -> F32x4 {
        x
    }
    #[inline(always)]
    fn step(self, acc: F32x4, x: F32x4) -> F32x4 {
        acc.add(x)
    }
    #[inline(always)]
    fn end(self, acc: F32x4) -> F32x4 {
        acc
    }
    #[inline(always)]
    fn one(self, a: f32, b: f32) -> f32 {
        a + b
    }
}

/// `pool_2d` with its fold and the value padding counts as.
fn pool_with(input: &[f32], y: Axis, x: Axis, pool: Pool, empty: f32, fold: impl Fold, output: &mut [f32]) {
    let (w_in, w_out) = (x.input, x.output);
    // The columns each output's window counts, for a mean.
    let columns: Vec<usize> = (0..w_out)
        .map(|o| match pool {
            Pool::Mean { count_padding: false } => x.window(o).1 - x.window(o).0,
            _ => x.kernel,
        })
        .collect();
    // Parts of whole planes, each with its own padded row (made here: running out of memory
    // on another thread would trap there). The padded row: `pad_before`, the input's width,
    // then padding up to the last window and past it for the four-lane reads of the last
    // outputs.
    let (plane_in, plane_out) = (y.input * w_in, y.output * w_out);
    let planes = output.len() / plane_out;
    let per = parts::per_part(output.len() * y.kernel * x.kernel, planes);
    let mut parts: Vec<(&[f32], &mut [f32], Vec<f32>)> = input
        .chunks(per * plane_in)
        .zip(output.chunks_mut(per * plane_out))
        .map(|(input, output)| (input, output, vec![empty; x.padded() + 2 * 4 + x.kernel]))
        .collect();
    parts::for_each_mut(&mut parts, |_, (input, output, down)| {
        for (plane, out) in input.chunks_exact(plane_in).zip(output.chunks_exact_mut(plane_out)) {
            for (o, out_row) in out.chunks_exact_mut(w_out).enumerate() {
                let (a, b) = y.window(o);
                fold_rows(&plane[a * w_in..b * w_in], w_in, empty, fold, &mut down[x.pad_before..][..w_in]);
                fold_across(down, x, fold, out_row);
                if let Pool::Mean { count_padding } = pool {
                    let rows = if count_padding { y.kernel } else { b - a };
                    for (y, &columns) in out_row.iter_mut().zip(&columns) {
                        *y /= (rows * columns) as f32;
                    }
                }
            }
        }
    });
}

/// `row[i]` = the fold of `empty` and column `i` of `rows` (whole rows of `width`).
fn fold_rows(rows: &[f32], width: usize, empty: f32, fold: impl Fold, row: &mut [f32]) {
    // Folded into `empty`, so that a max over nothing but -inf is `f32::MIN`, as onnxruntime
    // answers.
    let vectors = width / 4 * 4;
    for i in (0..vectors).step_by(4) {
        let acc = rows
            .chunks_exact(width)
            .fold(fold.start(F32x4::splat(empty)), |acc, r| fold.step(acc, F32x4::load(&r[i..])));
        fold.end(acc).store(&mut row[i..]);
    }
    for i in vectors..width {
        row[i] = rows.chunks_exact(width).fold(empty, |acc, r| fold.one(acc, r[i]));
    }
}

/// `out[o]` = the fold of `down[o * stride..][..kernel]`.
fn fold_across(down: &[f32], x: Axis, fold: impl Fold, out: &mut [f32]) {
    // Four outputs' values at `shift` into their windows.
    let pick = |at: usize| match x.stride {
        1 => F32x4::load(&down[at..]),
        _ => F32x4::load(&down[at..]).evens(F32x4::load(&down[at + 4..])),
    };
    let mut done = 0;
    if x.stride <= 2 {
        while done + 4 <= out.len() {
            let at = done * x.stride;
            let acc = (1..x.kernel).fold(fold.start(pick(at)), |acc, shift| fold.step(acc, pick(at + shift)));
            fold.end(acc).store(&mut out[done..]);
            done += 4;
        }
    }
    for (o, y) in out.iter_mut().enumerate().skip(done) {
        let window = &down[o * x.stride..][..x.kernel];
        *y = window[1..].iter().fold(window[0], |acc, &v| fold.one(acc, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, window by window.
    fn reference(input: &[f32], planes: usize, y: Axis, x: Axis) -> Vec<f32> {
        let mut out = Vec::new();
        for p in 0..planes {
            for oy in 0..y.output {
                for ox in 0..x.output {
                    let mut acc = f32::MIN;
                    for iy in y.window(oy).0..y.window(oy).1 {
                        for ix in x.window(ox).0..x.window(ox).1 {
                            let v = input[(p * y.input + iy) * x.input + ix];
                            if v.is_nan() || v > acc {
                                acc = v;
                            }
                            if acc.is_nan() {
                                break;
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
        out
    }

    fn axis(input: usize, kernel: usize, stride: usize, pad_before: usize, pad_after: usize, ceil: bool) -> Axis {
        let span = input + pad_before + pad_after - kernel;
        let output = if ceil { span.div_ceil(stride) } else { span / stride } + 1;
        Axis { input, output, kernel, stride, pad_before }
    }

    #[test]
    fn pools_as_defined_with_padding_strides_and_nan_which_wins() {
        for (h, w, k, s, pad, ceil) in [
            (7, 9, 3, 2, 0, true),
            (8, 8, 2, 2, 0, false),
            (5, 6, 3, 1, 1, false),
            (13, 13, 3, 2, 1, true),
            (1, 3, 1, 1, 0, false),
            (11, 37, 3, 2, 0, false),
            (6, 23, 2, 1, 0, false),
            (9, 20, 3, 3, 1, false),
        ] {
            let (y, x) = (axis(h, k, s, pad, pad, ceil), axis(w, k, s, pad, pad, ceil));
            let planes = 3;
            let input: Vec<f32> = (0..planes * h * w)
                .map(|i| {
                    if i % 11 == 4 {
                        f32::NAN
                    } else if i % 17 == 5 {
                        f32::NEG_INFINITY
                    } else {
                        ((i * 29) % 31) as f32 - 15.0
                    }
                })
                .collect();
            let mut out = vec![0.0; planes * y.output * x.output];
            pool_2d(&input, planes, y, x, Pool::Max, &mut out).unwrap();
            let expected = reference(&input, planes, y, x);
            assert!(
                out.iter().zip(&expected).all(|(a, b)| a == b || (a.is_nan() && b.is_nan())),
                "{h}x{w} k{k} s{s} pad {pad}"
            );
            assert!(out.iter().any(|v| v.is_nan()) && out.iter().any(|v| !v.is_nan()));
        }
    }

    /// Parts of planes, the last one short, on whatever thread: the same bits as one thread.
    #[cfg(feature = "threads")]
    #[test]
    fn parts_on_threads_give_the_same_bits() {
        let (y, x) = (axis(55, 3, 2, 0, 0, true), axis(57, 3, 2, 1, 1, false));
        let planes = 37;
        let input: Vec<f32> = (0..planes * 55 * 57).map(|i| ((i * 29) % 31) as f32 - 15.0).collect();
        for pool in [Pool::Max, Pool::Mean { count_padding: false }] {
            crate::parts::same_bits_on_threads(&format!("{pool:?}"), || {
                let mut out = vec![f32::NAN; planes * y.output * x.output];
                pool_2d(&input, planes, y, x, pool, &mut out).unwrap();
                out
            });
        }
    }

    #[test]
    fn means_and_sums_as_defined() {
        for (h, w, k, s, pad, ceil) in
            [(7, 9, 3, 2, 0, true), (5, 6, 3, 1, 1, false), (13, 13, 3, 2, 1, true), (4, 4, 2, 1, 0, false)]
        {
            let (y, x) = (axis(h, k, s, pad, pad, ceil), axis(w, k, s, pad, pad, ceil));
            let planes = 2;
            let input: Vec<f32> = (0..planes * h * w).map(|i| ((i * 29) % 31) as f32 * 0.25 - 3.0).collect();
            for pool in [Pool::Sum, Pool::Mean { count_padding: false }, Pool::Mean { count_padding: true }] {
                let mut expected = Vec::new();
                for p in 0..planes {
                    for oy in 0..y.output {
                        for ox in 0..x.output {
                            let ((ya, yb), (xa, xb)) = (y.window(oy), x.window(ox));
                            let sum: f32 = (ya..yb)
                                .flat_map(|iy| (xa..xb).map(move |ix| (iy, ix)))
                                .map(|(iy, ix)| input[(p * h + iy) * w + ix])
                                .sum();
                            expected.push(match pool {
                                Pool::Mean { count_padding: false } => sum / ((yb - ya) * (xb - xa)) as f32,
                                Pool::Mean { count_padding: true } => sum / (k * k) as f32,
                                _ => sum,
                            });
                        }
                    }
                }
                let mut out = vec![0.0; expected.len()];
                pool_2d(&input, planes, y, x, pool, &mut out).unwrap();
                for (i, (a, e)) in out.iter().zip(&expected).enumerate() {
                    assert!(
                        (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{h}x{w} k{k} s{s} pad {pad} {pool:?} [{i}]: {a} against {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn sizes_that_do_not_fit_are_refused() {
        let a = Axis { input: 4, output: 2, kernel: 2, stride: 2, pad_before: 0 };
        assert!(pool_2d(&[0.0; 15], 1, a, a, Pool::Max, &mut [0.0; 4]).is_err());
        assert!(pool_2d(&[0.0; 16], 1, a, a, Pool::Sum, &mut [0.0; 5]).is_err());
        assert!(pool_2d(&[0.0; 16], 1, Axis { stride: 0, ..a }, a, Pool::Max, &mut [0.0; 4]).is_err());
        // No planes is nothing to do, not a chunk of none.
        assert!(pool_2d(&[], 0, a, a, Pool::Max, &mut []).is_ok());
    }
}
