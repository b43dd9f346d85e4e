//! The part of rustfft's API that tract's DFT and STFT operators call: `FftPlanner`, `Fft`,
//! `FftDirection`, `FftNum` and the re-exported `num_complex` and `num_traits`.
//!
//! Transforms run in f64 whatever the element type: a radix-2 transform for lengths that are
//! powers of two, a direct sum with a table of twiddles otherwise. Like rustfft's, they are
//! unnormalised, and `process` transforms each `len`-long chunk of the buffer in place.

use std::f64::consts::TAU;
use std::marker::PhantomData;
use std::sync::Arc;

pub use num_complex;
pub use num_traits;

use num_complex::Complex;
use num_traits::{Float, FromPrimitive, Signed};

/// The element types a transform takes, as rustfft defines them.
pub trait FftNum: Copy + FromPrimitive + Signed + Sync + Send + std::fmt::Debug + 'static {}

impl<T> FftNum for T where T: Copy + FromPrimitive + Signed + Sync + Send + std::fmt::Debug + 'static {}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FftDirection {
    /// exp(-2πi jk/n)
    Forward,
    /// exp(+2πi jk/n)
    Inverse,
}

pub trait Fft<T: FftNum>: Sync + Send {
    /// Transforms each `len()`-long chunk of `buffer` in place; a shorter tail is left alone.
    fn process(&self, buffer: &mut [Complex<T>]);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct FftPlanner<T> {
    _t: PhantomData<T>,
}

impl<T: FftNum + Float> Default for FftPlanner<T> {
    fn default() -> Self {
        FftPlanner { _t: PhantomData }
    }
}

impl<T: FftNum + Float> FftPlanner<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn plan_fft(&mut self, len: usize, direction: FftDirection) -> Arc<dyn Fft<T>> {
        Arc::new(Transform::new(len, direction))
    }

    pub fn plan_fft_forward(&mut self, len: usize) -> Arc<dyn Fft<T>> {
        self.plan_fft(len, FftDirection::Forward)
    }

    pub fn plan_fft_inverse(&mut self, len: usize) -> Arc<dyn Fft<T>> {
        self.plan_fft(len, FftDirection::Inverse)
    }
}

/// One planned length and direction: `twiddles[k]` is exp(∓2πi k/len).
struct Transform<T> {
    twiddles: Vec<Complex<f64>>,
    _t: PhantomData<T>,
}

impl<T> Transform<T> {
    fn new(len: usize, direction: FftDirection) -> Self {
        let sign = if direction == FftDirection::Forward { -1.0 } else { 1.0 };
        let twiddles = (0..len).map(|k| Complex::from_polar(1.0, sign * TAU * k as f64 / len as f64)).collect();
        Transform { twiddles, _t: PhantomData }
    }
}

impl<T: FftNum + Float> Fft<T> for Transform<T> {
    fn len(&self) -> usize {
        self.twiddles.len()
    }

    fn process(&self, buffer: &mut [Complex<T>]) {
        let n = self.len();
        if n == 0 {
            return;
        }
        let mut x = vec![Complex::new(0.0, 0.0); n];
        for chunk in buffer.chunks_exact_mut(n) {
            for (x, c) in x.iter_mut().zip(chunk.iter()) {
                *x = Complex::new(c.re.to_f64().unwrap_or(f64::NAN), c.im.to_f64().unwrap_or(f64::NAN));
            }
            let y = transform(&x, &self.twiddles);
            for (c, y) in chunk.iter_mut().zip(y) {
                *c = Complex::new(T::from_f64(y.re).unwrap_or(T::nan()), T::from_f64(y.im).unwrap_or(T::nan()));
            }
        }
    }
}

/// The transform of `x` for the twiddles of its length.
fn transform(x: &[Complex<f64>], twiddles: &[Complex<f64>]) -> Vec<Complex<f64>> {
    let n = x.len();
    if !n.is_power_of_two() {
        return (0..n).map(|k| x.iter().enumerate().map(|(j, &v)| v * twiddles[(j * k) % n]).sum()).collect();
    }
    // Iterative radix 2: bit-reversed order, then butterflies of doubling span.
    let bits = n.trailing_zeros();
    let mut y: Vec<Complex<f64>> =
        (0..n).map(|i| x[if bits == 0 { 0 } else { i.reverse_bits() >> (usize::BITS - bits) }]).collect();
    let mut span = 1;
    while span < n {
        let step = n / (2 * span);
        for start in (0..n).step_by(2 * span) {
            for k in 0..span {
                let t = y[start + k + span] * twiddles[k * step];
                let u = y[start + k];
                y[start + k] = u + t;
                y[start + k + span] = u - t;
            }
        }
        span *= 2;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(x: &[Complex<f64>], sign: f64) -> Vec<Complex<f64>> {
        let n = x.len() as f64;
        (0..x.len())
            .map(|k| {
                x.iter().enumerate().map(|(j, &v)| v * Complex::from_polar(1.0, sign * TAU * (j * k) as f64 / n)).sum()
            })
            .collect()
    }

    fn signal(n: usize) -> Vec<Complex<f64>> {
        (0..n).map(|i| Complex::new((i as f64 * 0.7).sin() + 0.1 * i as f64, (i as f64 * 1.3).cos())).collect()
    }

    #[test]
    fn every_length_matches_the_direct_sum_both_ways() {
        for n in [1, 2, 3, 4, 5, 8, 12, 16, 31, 64, 100, 256] {
            for (direction, sign) in [(FftDirection::Forward, -1.0), (FftDirection::Inverse, 1.0)] {
                let x = signal(n);
                let mut buffer: Vec<Complex<f32>> = x.iter().map(|c| Complex::new(c.re as f32, c.im as f32)).collect();
                FftPlanner::<f32>::new().plan_fft(n, direction).process(&mut buffer);
                let x32: Vec<Complex<f64>> =
                    x.iter().map(|c| Complex::new(c.re as f32 as f64, c.im as f32 as f64)).collect();
                for (got, want) in buffer.iter().zip(direct(&x32, sign)) {
                    assert!((got.re as f64 - want.re).abs() < 1e-4 && (got.im as f64 - want.im).abs() < 1e-4, "n={n}");
                }
            }
        }
    }

    #[test]
    fn a_buffer_of_several_chunks_is_transformed_chunk_by_chunk_and_the_inverse_undoes_it() {
        let x: Vec<Complex<f64>> = signal(24);
        let mut buffer = x.clone();
        FftPlanner::<f64>::new().plan_fft_forward(8).process(&mut buffer);
        assert!((buffer[8] - direct(&x[8..16], -1.0)[0]).norm() < 1e-12);
        FftPlanner::<f64>::new().plan_fft_inverse(8).process(&mut buffer);
        for (got, want) in buffer.iter().zip(&x) {
            assert!((got / 8.0 - want).norm() < 1e-12);
        }
    }

    #[test]
    fn zero_length_and_nan_do_not_panic() {
        FftPlanner::<f32>::new().plan_fft_forward(0).process(&mut []);
        let mut buffer = vec![Complex::new(f32::NAN, 0.0), Complex::new(1.0, 0.0)];
        FftPlanner::<f32>::new().plan_fft_forward(2).process(&mut buffer);
        assert!(buffer[0].re.is_nan());
    }
}
