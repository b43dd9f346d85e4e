//! Where NaN is: some of tract's activation kernels clamp their input with a min and a max
//! that drop NaN (a sigmoid of NaN came out as 4.5e-7), so the core notes where NaN was and
//! puts it back. The scan is the common case, and finds nothing.

use crate::simd::F32x4;

/// The positions of NaN in `xs`, into `out` (cleared first).
pub fn positions(xs: &[f32], out: &mut Vec<usize>) {
    out.clear();
    let mut chunks = xs.chunks_exact(4);
    for (c, x) in (&mut chunks).enumerate() {
        if F32x4::load(x).any_nan() {
            out.extend((c * 4..c * 4 + 4).filter(|&i| xs[i].is_nan()));
        }
    }
    let tail = xs.len() - chunks.remainder().len();
    out.extend((tail..xs.len()).filter(|&i| xs[i].is_nan()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_every_nan_and_nothing_else() {
        let mut xs = vec![1.0f32; 23];
        for i in [0, 5, 6, 21, 22] {
            xs[i] = f32::NAN;
        }
        xs[9] = f32::INFINITY;
        let mut found = vec![99];
        super::positions(&xs, &mut found);
        assert_eq!(found, [0, 5, 6, 21, 22]);
        super::positions(&[1.0; 8], &mut found);
        assert!(found.is_empty());
    }
}
