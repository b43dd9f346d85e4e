//! 2-D convolution of NCHW images by filters of any size and stride, in groups, with the
//! bias and a clamp (ReLU, ReLU6) fused: the convolutions of CNNs that are not depthwise.
//!
//! Each group is a matrix product: the filters (`m x k`, as ONNX stores them: one row per
//! output channel, `k` = input channels x filter height x width) times the image's patches
//! (`k x n`, one column per output pixel). The patches are gathered (im2col) a strip of
//! pixels at a time, small enough to stay in cache, into panels of sixteen pixels: `k` rows
//! of sixteen values, read in order by the product, two output channels at a time
//! (tile.rs).

use crate::clamp::Clamp;
use crate::parts;
use crate::tile::{PANEL, block};
use crate::window::Axis;

/// Panel values gathered per strip: 32 KiB of floats, a strip's worth of patches that
/// stays in a core's L2 cache while every filter runs over it.
const STRIP_VALUES: usize = 32 * 1024;

/// The convolution's shape: channels, groups and the two spatial axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub input_channels: usize,
    pub output_channels: usize,
    pub groups: usize,
    pub y: Axis,
    pub x: Axis,
}

impl Geometry {
    /// Rows of a group's patch matrix: its input channels times the filter's taps.
    fn depth(&self) -> usize {
        self.input_channels / self.groups * self.y.kernel * self.x.kernel
    }
}

/// `out[n, o]` = `bias[o]` + the sum over the group's input channels `c` of `x[n, c]`
/// correlated with `weights[o, c]`, then `clamp`. `x` is `[batch, input_channels, y.input,
/// x.input]`, `weights` `[output_channels, input_channels / groups, y.kernel, x.kernel]`, and
/// `out` `[batch, output_channels, y.output, x.output]`.
pub fn conv_2d(
    x: &[f32],
    g: &Geometry,
    weights: &[f32],
    bias: &[f32],
    clamp: Clamp,
    out: &mut [f32],
) -> Result<(), String> {
    let (plane_in, pixels) = (g.y.input * g.x.input, g.y.output * g.x.output);
    let depth = if g.groups == 0 { 0 } else { g.depth() };
    if g.groups == 0
        || !g.input_channels.is_multiple_of(g.groups)
        || !g.output_channels.is_multiple_of(g.groups)
        || g.y.stride == 0
        || g.x.stride == 0
        || x.len() != g.batch * g.input_channels * plane_in
        || out.len() != g.batch * g.output_channels * pixels
        || weights.len() != g.output_channels * depth
        || bias.len() != g.output_channels
    {
        return Err(format!(
            "convolution: {} inputs, {} outputs, {} weights and {} biases do not fit {g:?}",
            x.len(),
            out.len(),
            weights.len(),
            bias.len()
        ));
    }
    if pixels == 0 || out.is_empty() {
        return Ok(());
    }
    let (cin, cout) = (g.input_channels / g.groups, g.output_channels / g.groups);
    // A 1x1 filter moving one pixel at a time reads the image as it lies: its patch matrix
    // is the image, a row per channel, and only a last panel of fewer than sixteen pixels
    // is gathered.
    let direct = g.y.kernel == 1
        && g.x.kernel == 1
        && g.y.stride == 1
        && g.x.stride == 1
        && g.y.pad_before == 0
        && g.x.pad_before == 0
        && pixels == plane_in;
    let strip = (STRIP_VALUES / (depth * PANEL).max(1)).max(1) * PANEL;
    // Each part's pixels: whole panels, so that no panel straddles two parts.
    let per = parts::per_part(cout * pixels * depth, pixels.div_ceil(PANEL)) * PANEL;
    let count = pixels.div_ceil(per);
    let mut gathered: Vec<Vec<f32>> = (0..count).map(|_| Vec::new()).collect();
    for n in 0..g.batch {
        for group in 0..g.groups {
            let image = &x[(n * g.input_channels + group * cin) * plane_in..][..cin * plane_in];
            let filters = &weights[group * cout * depth..][..cout * depth];
            let bias = &bias[group * cout..][..cout];
            let out = &mut out[(n * g.output_channels + group * cout) * pixels..][..cout * pixels];
            let mut parts: Vec<Part> = gathered
                .iter_mut()
                .enumerate()
                .map(|(i, panels)| {
                    // Reserved here, not as the part runs: running out of memory on another
                    // thread would trap there and leave this one waiting.
                    panels.clear();
                    panels.reserve(strip * depth);
                    Part { start: i * per, rows: Vec::with_capacity(cout), panels }
                })
                .collect();
            for row in out.chunks_exact_mut(pixels) {
                let mut rest = row;
                for part in &mut parts {
                    let (mine, others) = rest.split_at_mut(per.min(rest.len()));
                    part.rows.push(mine);
                    rest = others;
                }
            }
            let job = Job { image, cin, g, filters, bias, depth, direct, strip, clamp };
            parts::for_each_mut(&mut parts, |_, part| job.run(part));
        }
    }
    Ok(())
}

/// One thread's share of a group's convolution: output pixels `start..` to the end of its
/// rows (one per output channel), and the memory it gathers patches into.
struct Part<'a> {
    start: usize,
    rows: Vec<&'a mut [f32]>,
    panels: &'a mut Vec<f32>,
}

/// What every part of a group's convolution reads.
struct Job<'a> {
    image: &'a [f32],
    cin: usize,
    g: &'a Geometry,
    filters: &'a [f32],
    bias: &'a [f32],
    depth: usize,
    direct: bool,
    strip: usize,
    clamp: Clamp,
}

impl Job<'_> {
    /// The part's pixels, a strip at a time: patches gathered, then every filter over them.
    fn run(&self, part: &mut Part) {
        let Job { image, cin, g, filters, bias, depth, direct, strip, clamp } = *self;
        let pixels = g.y.output * g.x.output;
        let end = part.start + part.rows.first().map_or(0, |r| r.len());
        for start in (part.start..end).step_by(strip) {
            let width = strip.min(end - start);
            let whole = if direct { width / PANEL * PANEL } else { 0 };
            gather(image, cin, g, start + whole, width - whole, part.panels);
            let gathered: &[f32] = part.panels;
            // Panel `p` of the strip: where its first row starts, and how far apart its rows are.
            let panel = |p: usize| -> (&[f32], usize) {
                if p * PANEL < whole {
                    (&image[start + p * PANEL..], pixels)
                } else {
                    (&gathered[(p * PANEL - whole) / PANEL * depth * PANEL..], PANEL)
                }
            };
            let mut o = 0;
            while o < bias.len() {
                let rows = if bias.len() - o >= 2 { 2 } else { 1 };
                for p in 0..width.div_ceil(PANEL) {
                    let (b, stride) = panel(p);
                    let col = start + p * PANEL;
                    let cols = PANEL.min(end - col);
                    let bias = [bias[o], if rows == 2 { bias[o + 1] } else { 0.0 }];
                    let (a, out) = (&filters[o * depth..], &mut part.rows[o..o + rows]);
                    block(a, depth, rows, depth, bias, b, stride, clamp, out, col - part.start, cols);
                }
                o += rows;
            }
        }
    }
}

/// The patches of output pixels `start..start + width` (of one image's group of `cin`
/// channels), in panels of sixteen pixels, zero where a filter overhangs the image or past
/// the last pixel.
fn gather(image: &[f32], cin: usize, g: &Geometry, start: usize, width: usize, panels: &mut Vec<f32>) {
    let (kh, kw) = (g.y.kernel, g.x.kernel);
    let depth = cin * kh * kw;
    panels.clear();
    panels.resize(width.div_ceil(PANEL) * depth * PANEL, 0.0);
    let (h, w, ow) = (g.y.input as isize, g.x.input as isize, g.x.output);
    let (sy, sx) = (g.y.stride as isize, g.x.stride as isize);
    for (p, panel) in panels.chunks_exact_mut(depth * PANEL).enumerate() {
        let first = start + p * PANEL;
        let last = (first + PANEL).min(start + width);
        // The panel's pixels, a run of each output row at a time.
        let mut pixel = first;
        while pixel < last {
            let (oy, ox) = (pixel / ow, pixel % ow);
            let run = (ow - ox).min(last - pixel);
            let lane = pixel - first;
            let top = (oy as isize) * sy - g.y.pad_before as isize;
            let left = (ox as isize) * sx - g.x.pad_before as isize;
            for c in 0..cin {
                let plane = &image[c * g.y.input * g.x.input..][..g.y.input * g.x.input];
                for i in 0..kh {
                    let iy = top + i as isize;
                    if iy < 0 || iy >= h {
                        continue;
                    }
                    let row = &plane[iy as usize * g.x.input..][..g.x.input];
                    for j in 0..kw {
                        let dst = &mut panel[((c * kh + i) * kw + j) * PANEL..][lane..lane + run];
                        // The run's columns x0, x0 + sx, ..., clipped to the row: lanes
                        // from..to of the run read inside it.
                        let x0 = left + j as isize;
                        let from = if x0 >= 0 { 0 } else { (-x0 + sx - 1) / sx };
                        let to = if x0 >= w { 0 } else { ((w - x0 + sx - 1) / sx).min(run as isize) };
                        if from < to {
                            let (from, to) = (from as usize, to as usize);
                            let first = (x0 + from as isize * sx) as usize;
                            if sx == 1 {
                                dst[from..to].copy_from_slice(&row[first..first + to - from]);
                            } else {
                                let columns = row[first..].iter().step_by(sx as usize);
                                dst[from..to].iter_mut().zip(columns).for_each(|(d, &v)| *d = v);
                            }
                        }
                    }
                }
            }
            pixel += run;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(input: usize, kernel: usize, stride: usize, pad: usize) -> Axis {
        Axis { input, output: (input + 2 * pad - kernel) / stride + 1, kernel, stride, pad_before: pad }
    }

    /// The definition, one output at a time.
    fn reference(x: &[f32], g: &Geometry, w: &[f32], bias: &[f32], clamp: Clamp) -> Vec<f32> {
        let (cin, cout) = (g.input_channels / g.groups, g.output_channels / g.groups);
        let (oh, ow) = (g.y.output, g.x.output);
        let mut out = vec![0.0; g.batch * g.output_channels * oh * ow];
        for n in 0..g.batch {
            for o in 0..g.output_channels {
                let group = o / cout;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = bias[o];
                        for c in 0..cin {
                            for i in 0..g.y.kernel {
                                for j in 0..g.x.kernel {
                                    let iy = (oy * g.y.stride + i) as isize - g.y.pad_before as isize;
                                    let ix = (ox * g.x.stride + j) as isize - g.x.pad_before as isize;
                                    if iy < 0 || ix < 0 || iy >= g.y.input as isize || ix >= g.x.input as isize {
                                        continue;
                                    }
                                    let xc = n * g.input_channels + group * cin + c;
                                    let v = x[(xc * g.y.input + iy as usize) * g.x.input + ix as usize];
                                    s += v * w[((o * cin + c) * g.y.kernel + i) * g.x.kernel + j];
                                }
                            }
                        }
                        out[((n * g.output_channels + o) * oh + oy) * ow + ox] = clamp.one(s);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn convolutions_match_the_definition() {
        // (batch, in, out, groups, h, w, kernel, stride, pad)
        let cases = [
            (1, 3, 5, 1, 7, 9, 3, 1, 1),
            (2, 4, 6, 2, 5, 5, 1, 1, 0),
            (1, 16, 3, 1, 17, 19, 3, 2, 1),
            (1, 2, 2, 1, 4, 4, 7, 2, 3),
            (1, 6, 9, 3, 11, 6, 5, 3, 2),
            (1, 64, 33, 1, 13, 13, 3, 1, 1),
            (1, 1, 1, 1, 1, 1, 1, 1, 0),
            (1, 8, 5, 1, 9, 8, 1, 1, 0),
            (1, 8, 4, 1, 9, 9, 1, 2, 0),
            (3, 5, 7, 1, 40, 3, 1, 1, 0),
        ];
        for (batch, cin, cout, groups, h, w, k, s, p) in cases {
            let g = Geometry {
                batch,
                input_channels: cin,
                output_channels: cout,
                groups,
                y: axis(h, k, s, p),
                x: axis(w, k, s, p),
            };
            let x: Vec<f32> = (0..batch * cin * h * w).map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0).collect();
            let wts: Vec<f32> = (0..cout * g.depth()).map(|i| ((i * 13) % 23) as f32 * 0.0625 - 0.7).collect();
            let bias: Vec<f32> = (0..cout).map(|j| j as f32 * 0.01 - 0.2).collect();
            for clamp in [Clamp::NONE, Clamp::RELU, Clamp { lo: 0.0, hi: 6.0 }] {
                let expected = reference(&x, &g, &wts, &bias, clamp);
                let mut out = vec![f32::NAN; expected.len()];
                conv_2d(&x, &g, &wts, &bias, clamp, &mut out).unwrap();
                for (i, (a, e)) in out.iter().zip(&expected).enumerate() {
                    assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "{g:?} {clamp:?} [{i}]: {a} against {e}");
                }
            }
        }
    }

    /// Parts split pixels in whole panels, the last one short, on whatever thread: the
    /// answer is the same bits as on one thread.
    #[cfg(feature = "threads")]
    #[test]
    fn parts_on_threads_give_the_same_bits() {
        for (cin, cout, h, w, k, stride) in [(64, 33, 13, 13, 3, 1), (16, 40, 30, 21, 5, 2), (96, 64, 9, 7, 1, 1)] {
            let g = Geometry {
                batch: 2,
                input_channels: cin,
                output_channels: cout,
                groups: 1,
                y: axis(h, k, stride, k / 2),
                x: axis(w, k, stride, k / 2),
            };
            let x: Vec<f32> = (0..2 * cin * h * w).map(|i| ((i * 37) % 19) as f32 * 0.125 - 1.0).collect();
            let wts: Vec<f32> = (0..cout * g.depth()).map(|i| ((i * 13) % 23) as f32 * 0.0625 - 0.7).collect();
            let bias: Vec<f32> = (0..cout).map(|j| j as f32 * 0.01 - 0.2).collect();
            parts::same_bits_on_threads(&format!("{g:?}"), || {
                let mut out = vec![f32::NAN; 2 * cout * g.y.output * g.x.output];
                conv_2d(&x, &g, &wts, &bias, Clamp::RELU, &mut out).unwrap();
                out
            });
        }
    }

    #[test]
    fn nan_passes_through_the_clamp_and_shapes_are_checked() {
        let g = Geometry {
            batch: 1,
            input_channels: 1,
            output_channels: 1,
            groups: 1,
            y: axis(1, 1, 1, 0),
            x: axis(2, 1, 1, 0),
        };
        let mut out = [0.0; 2];
        conv_2d(&[f32::NAN, -1.0], &g, &[1.0], &[0.0], Clamp::RELU, &mut out).unwrap();
        assert!(out[0].is_nan());
        assert_eq!(out[1], 0.0);
        assert!(conv_2d(&[1.0; 3], &g, &[1.0], &[0.0], Clamp::NONE, &mut out).is_err());
        assert!(conv_2d(&[1.0; 2], &g, &[1.0, 2.0], &[0.0], Clamp::NONE, &mut out).is_err());
        let bad = Geometry { groups: 0, ..g };
        assert!(conv_2d(&[1.0; 2], &bad, &[1.0], &[0.0], Clamp::NONE, &mut out).is_err());
    }
}
