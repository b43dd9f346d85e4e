//! The kernels of SVMClassifier and SVMRegressor, with onnxruntime's parameter conventions:
//! `kernel_params` is [gamma, coef0, degree] (all 0 when absent), POLY is
//! `(gamma * <x, v> + coef0)^degree`, SIGMOID `tanh(gamma * <x, v> + coef0)`, RBF
//! `exp(-gamma * |x - v|^2)`.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kernel {
    Linear,
    Poly { gamma: f32, coef0: f32, degree: f32 },
    Rbf { gamma: f32 },
    Sigmoid { gamma: f32, coef0: f32 },
}

impl Kernel {
    pub fn parse(node: &NodeProto) -> TractResult<Kernel> {
        let params: Vec<f32> = node.get_attr_opt_vec("kernel_params")?.unwrap_or_default();
        let [gamma, coef0, degree] = match params[..] {
            [] => [0.0; 3],
            [g, c, d] => [g, c, d],
            _ => {
                return node.bail_attr(
                    "kernel_params",
                    &format!("expected 3 values (gamma, coef0, degree), got {}", params.len()),
                );
            }
        };
        let kind: Option<String> = node.get_attr_opt("kernel_type")?;
        Ok(match kind.as_deref().unwrap_or("LINEAR") {
            "LINEAR" => Kernel::Linear,
            "POLY" => Kernel::Poly { gamma, coef0, degree },
            "RBF" => Kernel::Rbf { gamma },
            "SIGMOID" => Kernel::Sigmoid { gamma, coef0 },
            other => {
                return node.bail_attr(
                    "kernel_type",
                    &format!("unknown kernel '{other}', expected LINEAR, POLY, RBF or SIGMOID"),
                );
            }
        })
    }

    pub fn apply(self, x: &[f32], v: &[f32]) -> f32 {
        let dot = || x.iter().zip(v).map(|(a, b)| a * b).sum::<f32>();
        match self {
            Kernel::Linear => dot(),
            Kernel::Poly { gamma, coef0, degree } => {
                let base = gamma * dot() + coef0;
                match degree {
                    2.0 => base * base,
                    3.0 => base * base * base,
                    _ => base.powf(degree),
                }
            }
            Kernel::Rbf { gamma } => {
                let d2: f32 = x.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum();
                (-gamma * d2).exp()
            }
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot() + coef0).tanh(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_follow_their_formulas() {
        let (x, v) = ([1.0, 2.0], [3.0, -1.0]);
        assert_eq!(Kernel::Linear.apply(&x, &v), 1.0);
        assert_eq!(Kernel::Poly { gamma: 2.0, coef0: 1.0, degree: 3.0 }.apply(&x, &v), 27.0);
        assert_eq!(Kernel::Rbf { gamma: 0.5 }.apply(&x, &v), (-0.5f32 * 13.0).exp());
        assert_eq!(Kernel::Sigmoid { gamma: 1.0, coef0: 0.0 }.apply(&x, &v), 1f32.tanh());
    }
}
