//! TreeEnsembleRegressor (ai.onnx.ml 1 and 3): `n_targets` outputs per row, each the
//! aggregate (SUM, AVERAGE, MIN or MAX) of the leaf weights the trees reach for it, plus
//! its base value, then the post transform. As in onnxruntime, a target no leaf weighs is
//! its base value when it is the only target and 0 among several, and the output is float
//! whatever the input.
//!
//! One difference, deliberate: with a single target onnxruntime applies only PROBIT and
//! ignores LOGISTIC and the softmaxes (its open issue #26596); here every transform applies,
//! as the specification says.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ensemble::{Ensemble, Finish};
use super::forest::{Aggregate, Real, Scores};
use super::post_transform::PostTransform;
use super::{Built, label, tree_attributes, typed};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let targets = tree_attributes::n_targets(node)?;
    let aggregate = parse_aggregate(node)?;
    let post_transform = PostTransform::parse(node)?;
    let trees = tree_attributes::parse(ctx, node, "target", targets)?;
    let base_values = trees.base_values;
    if !base_values.is_empty() && base_values.len() != targets {
        let n = base_values.len();
        return node
            .bail_attr("base_values", &format!("has {n} values for {targets} targets: give one per target, or none"));
    }
    typed(
        TreeEnsembleRegressor {
            label: label(node),
            ensemble: trees.ensemble,
            aggregate,
            post_transform,
            base_values,
            targets,
        },
        1,
    )
}

fn parse_aggregate(node: &NodeProto) -> TractResult<Aggregate> {
    let name: Option<String> = node.get_attr_opt("aggregate_function")?;
    Ok(match name.as_deref().unwrap_or("SUM") {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        other => {
            return node.bail_attr(
                "aggregate_function",
                &format!("unknown function '{other}', expected SUM, AVERAGE, MIN or MAX"),
            );
        }
    })
}

/// Invariant: `base_values` is empty (zeros) or has one value per target.
#[derive(Debug, Clone)]
pub(super) struct TreeEnsembleRegressor {
    label: String,
    ensemble: Ensemble,
    aggregate: Aggregate,
    post_transform: PostTransform,
    base_values: Vec<f64>,
    targets: usize,
}

/// Two nodes are the same op only if they share their trees (merging is an optimisation).
impl PartialEq for TreeEnsembleRegressor {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.ensemble.same(&other.ensemble)
    }
}

impl Eq for TreeEnsembleRegressor {}

/// Each target's aggregate plus its base value (none: zero), [rows, targets] in the
/// forest's type. A target no leaf weighed is its base value when it is the only one, and 0
/// among several: onnxruntime writes such a target as 0 there, base value or not.
pub(super) fn regress<S: Real>(scores: Scores<S>, base_values: &[f64], targets: usize) -> Vec<S> {
    let mut values = scores.values;
    for (k, (v, &has)) in values.iter_mut().zip(&scores.has).enumerate() {
        let base = if base_values.is_empty() { S::ZERO } else { S::from_f64(base_values[k % base_values.len()]) };
        *v = match (has, targets) {
            (true, _) => base + *v,
            (false, 1) => base,
            (false, _) => S::ZERO,
        };
    }
    values
}

/// `regress`, then in f32, where onnxruntime computes the transforms, each row of `targets`
/// scores transformed.
pub(super) fn transformed<S: Real>(
    scores: Scores<S>,
    base_values: &[f64],
    post_transform: PostTransform,
    targets: usize,
) -> Vec<f32> {
    let mut y: Vec<f32> = regress(scores, base_values, targets).into_iter().map(|v| v.to_f64() as f32).collect();
    post_transform.apply_rows(&mut y, targets);
    y
}

impl Finish for TreeEnsembleRegressor {
    fn finish<S: Real>(&self, scores: Scores<S>, rows: usize) -> TractResult<TVec<TValue>> {
        let y = transformed(scores, &self.base_values, self.post_transform, self.targets);
        Ok(tvec!(Tensor::from_shape(&[rows, self.targets], &y)?.into_tvalue()))
    }
}

impl Op for TreeEnsembleRegressor {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        self.ensemble.run(&self.label, &x, self.aggregate, self)
    }
}

impl TypedOp for TreeEnsembleRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let types = [DatumType::F32, DatumType::F64, DatumType::I64, DatumType::I32];
        let n = self.ensemble.rows_of(&self.label, inputs[0], &types)?;
        Ok(tvec!(f32::fact([n, self.targets.into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_no_leaf_weighs_is_its_base_value_alone_and_0_among_several() {
        let scores = Scores { values: vec![2.0f32, 0.0, 5.0, 1.0], has: vec![true, false, true, true] };
        assert_eq!(regress(scores.clone(), &[0.5, 10.0], 2), [2.5, 0.0, 5.5, 11.0]);
        assert_eq!(regress(scores, &[], 2), [2.0, 0.0, 5.0, 1.0]);
        let one = Scores { values: vec![0.0f32, 3.0], has: vec![false, true] };
        assert_eq!(regress(one, &[0.5], 1), [0.5, 3.5]);
    }
}
