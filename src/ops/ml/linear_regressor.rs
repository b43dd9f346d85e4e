//! LinearRegressor: `targets` linear outputs per row. As in onnxruntime, a transform applies
//! across a row of several targets; with one target only PROBIT changes it.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::post_transform::{PostTransform, probit};
use super::{Built, as_f32, check_features, check_features_now, is_numeric, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let targets: i64 = node.get_attr_opt("targets")?.unwrap_or(1);
    let coefficients: Vec<f32> = node.get_attr_opt_vec("coefficients")?.unwrap_or_default();
    let intercepts: Vec<f32> = node.get_attr_opt_vec("intercepts")?.unwrap_or_default();
    let post_transform = PostTransform::parse(node)?;
    if targets < 1 {
        return node.bail_attr("targets", &format!("expected a positive count, got {targets}"));
    }
    let targets = targets as usize;
    if coefficients.is_empty() || !coefficients.len().is_multiple_of(targets) {
        return node.bail_attr(
            "coefficients",
            &format!("has {} values, expected a non-zero multiple of targets ({targets})", coefficients.len()),
        );
    }
    if !intercepts.is_empty() && intercepts.len() != targets {
        return node
            .bail_attr("intercepts", &format!("has {} values, expected one per target ({targets})", intercepts.len()));
    }
    let intercepts = if intercepts.is_empty() { vec![0.0; targets] } else { intercepts };
    let features = coefficients.len() / targets;
    typed(LinearRegressor { label: label(node), coefficients, intercepts, features, post_transform }, 1)
}

/// Invariant: `coefficients` is [targets, features] row-major, one intercept per target.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LinearRegressor {
    label: String,
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    features: usize,
    post_transform: PostTransform,
}

/// Equality only merges identical nodes; a NaN coefficient just keeps them apart.
impl Eq for LinearRegressor {}

impl LinearRegressor {
    fn predict(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let targets = self.intercepts.len();
        let mut y = Vec::with_capacity(rows * targets);
        for r in 0..rows {
            let row = x.get(r * self.features..(r + 1) * self.features).unwrap_or(&[]);
            for (w, b) in self.coefficients.chunks(self.features.max(1)).zip(&self.intercepts) {
                y.push(row.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + b);
            }
        }
        if targets > 1 {
            self.post_transform.apply_rows(&mut y, targets);
        } else if self.post_transform == PostTransform::Probit {
            y.iter_mut().for_each(|v| *v = probit(*v));
        }
        y
    }
}

impl Op for LinearRegressor {
    fn name(&self) -> StaticName {
        "LinearRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for LinearRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let rows = check_features_now(&self.label, x.shape(), self.features)?;
        let y = self.predict(&as_f32(&x)?, rows);
        Ok(tvec!(Tensor::from_shape(&[rows, self.intercepts.len()], &y)?.into_tvalue()))
    }
}

impl TypedOp for LinearRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        let n = check_features(&self.label, x, self.features)?;
        Ok(tvec!(f32::fact([n, self.intercepts.len().into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_target_ignores_logistic_and_several_take_it() {
        let one = LinearRegressor {
            label: "r".into(),
            coefficients: vec![2.0],
            intercepts: vec![1.0],
            features: 1,
            post_transform: PostTransform::Logistic,
        };
        assert_eq!(one.predict(&[1.0, 2.0], 2), vec![3.0, 5.0]);
        let two = LinearRegressor { coefficients: vec![1.0, 0.0], intercepts: vec![0.0, 0.0], ..one };
        assert_eq!(two.predict(&[0.0], 1), vec![0.5, 0.5]);
    }
}
