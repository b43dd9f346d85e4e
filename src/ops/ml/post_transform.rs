//! The score transforms of the ai.onnx.ml classifiers and regressors, computed as
//! onnxruntime computes them (its own logistic, its erfinv approximation for PROBIT, its
//! SOFTMAX_ZERO that leaves zero scores out), so scores agree to float rounding.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    /// The `post_transform` attribute (NONE when absent); anything else is refused.
    pub fn parse(node: &NodeProto) -> TractResult<PostTransform> {
        let name: Option<String> = node.get_attr_opt("post_transform")?;
        Ok(match name.as_deref().unwrap_or("NONE") {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => {
                return node.bail_attr(
                    "post_transform",
                    &format!("unknown transform '{other}', expected NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT"),
                );
            }
        })
    }

    /// Transforms `scores`, rows of `width` scores each, when a row has several scores.
    pub fn apply_rows(self, scores: &mut [f32], width: usize) {
        if width == 0 {
            return;
        }
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Probit => scores.iter_mut().for_each(|s| *s = probit(*s)),
            PostTransform::Softmax => scores.chunks_mut(width).for_each(softmax),
            PostTransform::SoftmaxZero => scores.chunks_mut(width).for_each(softmax_zero),
        }
    }
}

pub(super) fn logistic(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 { 1.0 - v } else { v }
}

pub(super) fn probit(x: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * x - 1.0)
}

/// Winitzki's approximation, as onnxruntime uses it (PROBIT must match it, not exact erfinv).
fn erf_inv(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let ln = ((1.0 - x) * (1.0 + x)).ln();
    let a = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * ln;
    let b = ln / 0.147;
    sign * (-a + (a * a - b).sqrt()).sqrt()
}

fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(-f32::MAX, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

/// Softmax over the non-zero scores; zeros stay (almost) zero.
fn softmax_zero(row: &mut [f32]) {
    let max = row.iter().copied().fold(-f32::MAX, f32::max);
    let exp_neg_max = (-max).exp();
    let mut sum = 0.0;
    for v in row.iter_mut() {
        if v.abs() > 1e-7 {
            *v = (*v - max).exp();
            sum += *v;
        } else {
            *v *= exp_neg_max;
        }
    }
    row.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_symmetric_and_bounded() {
        assert_eq!(logistic(0.0), 0.5);
        assert!((logistic(2.0) + logistic(-2.0) - 1.0).abs() < 1e-7);
        assert!(logistic(-100.0) >= 0.0 && logistic(100.0) <= 1.0);
    }

    #[test]
    fn probit_inverts_the_normal_cdf_approximately() {
        assert!(probit(0.5).abs() < 1e-6);
        // Phi(1) = 0.8413: the approximation is good to a few thousandths.
        assert!((probit(0.8413) - 1.0).abs() < 5e-3, "{}", probit(0.8413));
    }

    #[test]
    fn softmax_rows_sum_to_one_and_softmax_zero_skips_zeros() {
        let mut s = [1.0, 2.0, 3.0, 0.0, 0.0, 5.0];
        PostTransform::Softmax.apply_rows(&mut s[..3], 3);
        assert!((s[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        PostTransform::SoftmaxZero.apply_rows(&mut s[3..], 3);
        assert_eq!(&s[3..], &[0.0, 0.0, 1.0]);
    }
}
