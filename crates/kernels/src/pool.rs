//! Max and average pooling over NCHW planes. Max pooling is as onnxruntime-web computes it:
//! each output is the largest input its window covers, NaN if any of them is NaN (wasm's
//! `f32x4.max`; onnxruntime's CPU build answers with whatever its SIMD lane order leaves),
//! and `f32::MIN` for a window that covers nothing but padding (or -inf). The window is
//! separable: rows are pooled down, then across.

use crate::binary::{Op, apply_slice};
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
/// row, four lanes at a time), then across: a sliding maximum or sum at every position of
/// that row, padded with `f32::MIN` or 0, of which every `stride`th is kept.
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
    let (w_in, w_out) = (x.input, x.output);
    if w_out == 0 || y.output == 0 {
        return Ok(());
    }
    // Max propagates NaN, as wasm's `f32x4.max` does.
    let (empty, fold) = match pool {
        Pool::Max => (f32::MIN, Op::Max),
        Pool::Sum | Pool::Mean { .. } => (0.0, Op::Add),
    };
    // The padded row: `pad_before` then the input's width, then enough for the last window.
    let span = (w_out - 1) * x.stride + x.kernel;
    let padded = span.max(x.pad_before + w_in);
    let mut down = vec![empty; padded + 4];
    let mut across = vec![empty; padded + 4];
    // The columns each output's window counts, for a mean.
    let columns: Vec<usize> = (0..w_out)
        .map(|o| match pool {
            Pool::Mean { count_padding: false } => x.window(o).1 - x.window(o).0,
            _ => x.kernel,
        })
        .collect();
    for (plane, out) in input.chunks_exact(y.input * w_in).zip(output.chunks_exact_mut(y.output * w_out)) {
        for (o, out_row) in out.chunks_exact_mut(w_out).enumerate() {
            let (a, b) = y.window(o);
            let row = &mut down[x.pad_before..x.pad_before + w_in];
            row.fill(empty);
            for r in a..b {
                apply_slice(row, fold, &plane[r * w_in..(r + 1) * w_in]);
            }
            // across[i] = fold(down[i..i + kernel]), for the positions windows start at.
            let starts = (w_out - 1) * x.stride + 1;
            across[..starts].copy_from_slice(&down[..starts]);
            for shift in 1..x.kernel {
                apply_slice(&mut across[..starts], fold, &down[shift..shift + starts]);
            }
            let rows = match pool {
                Pool::Mean { count_padding: false } => b - a,
                _ => y.kernel,
            };
            let starts = across.iter().step_by(x.stride);
            match pool {
                Pool::Max | Pool::Sum => out_row.iter_mut().zip(starts).for_each(|(y, &v)| *y = v),
                Pool::Mean { .. } => {
                    for ((y, &v), &columns) in out_row.iter_mut().zip(starts).zip(&columns) {
                        *y = v / (rows * columns) as f32;
                    }
                }
            }
        }
    }
    Ok(())
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
    }
}
