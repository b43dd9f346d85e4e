//! SVMRegressor, as onnxruntime computes it: with `n_supports` support vectors,
//! `sum coef_v * K(x, v) + rho[0]`; without, liblinear's `<x, coefficients> + rho[0]`. A
//! one-class SVM (`one_class=1`) outputs +1 or -1 by the sign. onnxruntime ignores
//! `post_transform` here (the output is one raw value), so it is checked but not applied.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::post_transform::PostTransform;
use super::svm_kernel::Kernel;
use super::{Built, as_f32, check_features, check_features_now, is_numeric, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let kernel = Kernel::parse(node)?;
    PostTransform::parse(node)?;
    let floats = |name: &str| -> TractResult<Vec<f32>> { Ok(node.get_attr_opt_vec(name)?.unwrap_or_default()) };
    let (coefficients, rho, support_vectors) = (floats("coefficients")?, floats("rho")?, floats("support_vectors")?);
    let supports: i64 = node.get_attr_opt("n_supports")?.unwrap_or(0);
    let one_class: i64 = node.get_attr_opt("one_class")?.unwrap_or(0);
    if one_class != 0 && one_class != 1 {
        return node.bail_attr("one_class", &format!("expected 0 or 1, got {one_class}"));
    }
    if coefficients.is_empty() {
        return node.bail_attr("coefficients", "expected a non-empty list of floats");
    }
    if rho.is_empty() {
        return node.bail_attr("rho", "expected one value");
    }
    if supports < 0 {
        return node.bail_attr("n_supports", &format!("expected a non-negative count, got {supports}"));
    }
    let supports = supports as usize;
    let (kernel, features) = if supports > 0 {
        if support_vectors.is_empty() || support_vectors.len() % supports != 0 {
            return node.bail_attr(
                "support_vectors",
                &format!(
                    "has {} values, expected a non-zero multiple of n_supports ({supports})",
                    support_vectors.len()
                ),
            );
        }
        if coefficients.len() != supports {
            return node.bail_attr(
                "coefficients",
                &format!("has {} values, expected one per support vector ({supports})", coefficients.len()),
            );
        }
        (kernel, support_vectors.len() / supports)
    } else {
        (Kernel::Linear, coefficients.len())
    };
    let op = SvmRegressor {
        label: label(node),
        kernel,
        coefficients,
        support_vectors,
        rho: rho[0],
        features,
        one_class: one_class == 1,
    };
    typed(op, 1)
}

/// Invariant: with support vectors, `support_vectors` is [coefficients.len(), features];
/// without, `coefficients` has `features` values and `support_vectors` is empty.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SvmRegressor {
    label: String,
    kernel: Kernel,
    coefficients: Vec<f32>,
    support_vectors: Vec<f32>,
    rho: f32,
    features: usize,
    one_class: bool,
}

/// Equality only merges identical nodes; a NaN coefficient just keeps them apart.
impl Eq for SvmRegressor {}

impl SvmRegressor {
    fn row(&self, x: &[f32]) -> f32 {
        let y = if self.support_vectors.is_empty() {
            Kernel::Linear.apply(x, &self.coefficients) + self.rho
        } else {
            let sum: f32 = self
                .support_vectors
                .chunks(self.features.max(1))
                .zip(&self.coefficients)
                .map(|(v, c)| c * self.kernel.apply(x, v))
                .sum();
            sum + self.rho
        };
        if self.one_class { if y > 0.0 { 1.0 } else { -1.0 } } else { y }
    }
}

impl Op for SvmRegressor {
    fn name(&self) -> StaticName {
        "SVMRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for SvmRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let rows = check_features_now(&self.label, x.shape(), self.features)?;
        let x = as_f32(&x)?;
        let y: Vec<f32> =
            (0..rows).map(|r| self.row(x.get(r * self.features..(r + 1) * self.features).unwrap_or(&[]))).collect();
        Ok(tvec!(Tensor::from_shape(&[rows, 1], &y)?.into_tvalue()))
    }
}

impl TypedOp for SvmRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        let n = check_features(&self.label, x, self.features)?;
        Ok(tvec!(f32::fact([n, 1.into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_vectors_liblinear_and_one_class() {
        let svr = SvmRegressor {
            label: "s".into(),
            kernel: Kernel::Linear,
            coefficients: vec![2.0, -1.0],
            support_vectors: vec![1.0, 0.0, 0.0, 1.0],
            rho: 0.5,
            features: 2,
            one_class: false,
        };
        assert_eq!(svr.row(&[1.0, 3.0]), 2.0 - 3.0 + 0.5);
        let linear = SvmRegressor { support_vectors: vec![], ..svr.clone() };
        assert_eq!(linear.row(&[1.0, 3.0]), 2.0 - 3.0 + 0.5);
        let one_class = SvmRegressor { one_class: true, ..svr };
        assert_eq!(one_class.row(&[1.0, 3.0]), -1.0);
        assert_eq!(one_class.row(&[3.0, 1.0]), 1.0);
    }
}
