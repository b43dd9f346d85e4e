//! Depthwise 2-D convolution of NCHW planes (one filter per channel, as MobileNets and
//! ShuffleNets use), with the bias and a clamp (ReLU, ReLU6) fused.
//!
//! Each channel's plane is copied once into a zero-padded buffer split by phase: with
//! strides `sy x sx`, sub-plane `(py, px)` holds the padded rows `py, py + sy, ...` and, in
//! each, the columns `px, px + sx, ...`, all `L` wide. Output `(oy, ox)` at `oy * L + ox` of a
//! plane as wide is then the bias plus, for each tap `(i, j)` of the filter, its weight times
//! sub-plane `(i % sy, j % sx)` at `oy * L + ox` shifted by `(i / sy) * L + j / sx`: one run
//! over the whole plane per tap, four lanes at a time, whatever the strides. The `L - ow`
//! columns past each output row are computed and dropped.

use crate::clamp::Clamp;
use crate::parts;
use crate::simd::F32x4;
use crate::window::Axis;

/// `out[n, c]` = `bias[c]` + `x[n, c]` convolved with `weights[c]` (`kh x kw`), then
/// `clamp`; `x` is `[batch, channels, y.input, x.input]` and `out` the same with the outputs.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_2d(
    x: &[f32],
    batch: usize,
    channels: usize,
    y: Axis,
    xa: Axis,
    weights: &[f32],
    bias: &[f32],
    clamp: Clamp,
    out: &mut [f32],
) -> Result<(), String> {
    let (kh, kw) = (y.kernel, xa.kernel);
    if x.len() != batch * channels * y.input * xa.input
        || out.len() != batch * channels * y.output * xa.output
        || weights.len() != channels * kh * kw
        || bias.len() != channels
        || y.stride == 0
        || xa.stride == 0
    {
        return Err(format!(
            "depthwise convolution: {} inputs, {} outputs, {} weights and {} biases do not fit {batch} x {channels} planes of {y:?} x {xa:?}",
            x.len(),
            out.len(),
            weights.len(),
            bias.len()
        ));
    }
    let (sy, sx) = (y.stride, xa.stride);
    let (oh, ow) = (y.output, xa.output);
    if oh == 0 || ow == 0 {
        return Ok(());
    }
    let width = xa.padded().div_ceil(sx);
    // Rows of each sub-plane: enough for the last output row's lowest tap, and one more
    // for the last tap's shift to the right.
    let rows = y.padded().div_ceil(sy).max(oh + (kh - 1) / sy + 1);
    let sub = rows * width + 4;
    let (plane_in, plane_out) = (y.input * xa.input, oh * ow);
    // Parts of whole planes, each with its own planes of `out` and its own buffers (made
    // here: running out of memory on another thread would trap there).
    let planes = batch * channels;
    let per = parts::per_part(planes * plane_out * kh * kw, planes);
    let mut parts: Vec<Part> = out
        .chunks_mut(per * plane_out)
        .enumerate()
        .map(|(p, out)| Part { first: p * per, out, split: vec![0.0; sy * sx * sub], wide: vec![0.0; oh * width] })
        .collect();
    parts::for_each_mut(&mut parts, |_, part| {
        for (i, ys) in part.out.chunks_exact_mut(plane_out).enumerate() {
            let plane = part.first + i;
            let c = plane % channels;
            let xs = &x[plane * plane_in..(plane + 1) * plane_in];
            let (split, wide) = (&mut part.split, &mut part.wide);
            for (r, row) in xs.chunks_exact(xa.input.max(1)).enumerate().take(y.input) {
                let pr = r + y.pad_before;
                let at = (pr % sy) * sx * sub + (pr / sy) * width;
                if sx == 1 {
                    split[at + xa.pad_before..at + xa.pad_before + row.len()].copy_from_slice(row);
                } else {
                    for (col, &v) in row.iter().enumerate() {
                        let pc = col + xa.pad_before;
                        split[at + (pc % sx) * sub + pc / sx] = v;
                    }
                }
            }
            wide.fill(bias[c]);
            let w = &weights[c * kh * kw..(c + 1) * kh * kw];
            for i in 0..kh {
                for j in 0..kw {
                    let base = ((i % sy) * sx + j % sx) * sub + (i / sy) * width + j / sx;
                    multiply_add(wide, w[i * kw + j], &split[base..]);
                }
            }
            clamp.apply(wide);
            for (o, y_row) in ys.chunks_exact_mut(ow).enumerate() {
                y_row.copy_from_slice(&wide[o * width..o * width + ow]);
            }
        }
    });
    Ok(())
}

/// One thread's share: planes `first..` of the output, as many as `out` holds, and the
/// buffers it splits and sums them in (the split's zero padding is written once, and stays).
struct Part<'a> {
    first: usize,
    out: &'a mut [f32],
    split: Vec<f32>,
    wide: Vec<f32>,
}

/// `acc[i] += w * v[i]`; `v` is at least as long as `acc`.
fn multiply_add(acc: &mut [f32], w: f32, v: &[f32]) {
    let wv = F32x4::splat(w);
    let done = acc.len() / 4 * 4;
    let mut ys = acc.chunks_exact_mut(4);
    let mut xs = v.chunks_exact(4);
    for (y, x) in (&mut ys).zip(&mut xs) {
        F32x4::load(y).mul_add(wv, F32x4::load(x)).store(y);
    }
    for (y, x) in ys.into_remainder().iter_mut().zip(&v[done..]) {
        *y += w * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(input: usize, kernel: usize, stride: usize, pad: usize) -> Axis {
        Axis { input, output: (input + 2 * pad - kernel) / stride + 1, kernel, stride, pad_before: pad }
    }

    /// The definition, output by output.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f32],
        batch: usize,
        channels: usize,
        y: Axis,
        xa: Axis,
        w: &[f32],
        b: &[f32],
        clamp: Clamp,
    ) -> Vec<f32> {
        let mut out = Vec::new();
        for n in 0..batch {
            for c in 0..channels {
                for oy in 0..y.output {
                    for ox in 0..xa.output {
                        let mut s = b[c];
                        for i in 0..y.kernel {
                            for j in 0..xa.kernel {
                                let (iy, ix) = (
                                    (oy * y.stride + i) as isize - y.pad_before as isize,
                                    (ox * xa.stride + j) as isize - xa.pad_before as isize,
                                );
                                if iy >= 0 && ix >= 0 && (iy as usize) < y.input && (ix as usize) < xa.input {
                                    s += w[(c * y.kernel + i) * xa.kernel + j]
                                        * x[((n * channels + c) * y.input + iy as usize) * xa.input + ix as usize];
                                }
                            }
                        }
                        out.push(clamp.one(s));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn convolves_as_defined() {
        for (h, w, k, s, pad, clamp) in [
            (7, 9, 3, 1, 1, Clamp::NONE),
            (14, 14, 3, 2, 1, Clamp::RELU),
            (8, 5, 5, 1, 2, Clamp { lo: 0.0, hi: 6.0 }),
            (6, 6, 3, 2, 0, Clamp::NONE),
            (1, 11, 1, 1, 0, Clamp::NONE),
        ] {
            let (batch, channels) = (2, 3);
            let (ya, xa) = (axis(h, k, s, pad), axis(w, k, s, pad));
            let x: Vec<f32> = (0..batch * channels * h * w).map(|i| ((i * 37) % 17) as f32 * 0.5 - 4.0).collect();
            let weights: Vec<f32> = (0..channels * k * k).map(|i| ((i * 13) % 7) as f32 * 0.25 - 0.7).collect();
            let bias = [0.5, -1.0, 2.0];
            let mut out = vec![f32::NAN; batch * channels * ya.output * xa.output];
            depthwise_2d(&x, batch, channels, ya, xa, &weights, &bias, clamp, &mut out).unwrap();
            let expected = reference(&x, batch, channels, ya, xa, &weights, &bias, clamp);
            for (i, (a, e)) in out.iter().zip(&expected).enumerate() {
                assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "{h}x{w} k{k} s{s} p{pad} [{i}]: {a} against {e}");
            }
        }
    }

    /// Parts of planes, the last one short, on whatever thread: the same bits as one thread,
    /// and each part's padding stays zero from plane to plane.
    #[cfg(feature = "threads")]
    #[test]
    fn parts_on_threads_give_the_same_bits() {
        for (batch, channels, h, k, s) in [(1, 57, 28, 3, 1), (2, 29, 15, 5, 2)] {
            let (ya, xa) = (axis(h, k, s, k / 2), axis(h + 3, k, s, k / 2));
            let x: Vec<f32> = (0..batch * channels * h * (h + 3)).map(|i| ((i * 37) % 17) as f32 * 0.5 - 4.0).collect();
            let weights: Vec<f32> = (0..channels * k * k).map(|i| ((i * 13) % 7) as f32 * 0.25 - 0.7).collect();
            let bias: Vec<f32> = (0..channels).map(|c| c as f32 * 0.1 - 1.0).collect();
            let one = parts::same_bits_on_threads(&format!("{h} k{k}"), || {
                let mut out = vec![f32::NAN; batch * channels * ya.output * xa.output];
                depthwise_2d(&x, batch, channels, ya, xa, &weights, &bias, Clamp::RELU, &mut out).unwrap();
                out
            });
            let expected = reference(&x, batch, channels, ya, xa, &weights, &bias, Clamp::RELU);
            assert!(one.iter().zip(&expected).all(|(a, e)| (a - e).abs() <= 1e-4 * (1.0 + e.abs())));
        }
    }

    #[test]
    fn sizes_that_do_not_fit_are_refused() {
        let a = axis(4, 3, 1, 1);
        let mut out = [0.0; 16];
        assert!(depthwise_2d(&[0.0; 16], 1, 1, a, a, &[0.0; 9], &[0.0], Clamp::NONE, &mut out).is_ok());
        assert!(depthwise_2d(&[0.0; 15], 1, 1, a, a, &[0.0; 9], &[0.0], Clamp::NONE, &mut out).is_err());
        assert!(depthwise_2d(&[0.0; 16], 1, 1, a, a, &[0.0; 8], &[0.0], Clamp::NONE, &mut out).is_err());
        assert!(depthwise_2d(&[0.0; 16], 1, 1, a, a, &[0.0; 9], &[], Clamp::NONE, &mut out).is_err());
        // A batch of none is nothing to do, not a chunk of no planes.
        assert!(depthwise_2d(&[], 0, 1, a, a, &[0.0; 9], &[0.0], Clamp::NONE, &mut []).is_ok());
    }
}
