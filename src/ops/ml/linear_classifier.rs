//! LinearClassifier: one linear score per target, then a label and the (transformed) scores,
//! following onnxruntime: the class count is the number of intercepts; with one score the
//! label is the positive class when the score is above 0, and with two labels a second
//! column `1 - score` is added (no transform applies to it). tract's version applies the
//! logistic there and differs for one score, so this one replaces it.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::class_labels::ClassLabels;
use super::post_transform::PostTransform;
use super::{Built, as_f32, check_features, check_features_now, is_numeric, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let labels = ClassLabels::parse(node, "classlabels_ints", "classlabels_strings")?;
    let coefficients: Vec<f32> = node.get_attr_opt_vec("coefficients")?.unwrap_or_default();
    let intercepts: Vec<f32> = node.get_attr_opt_vec("intercepts")?.unwrap_or_default();
    let post_transform = PostTransform::parse(node)?;
    if coefficients.is_empty() {
        return node.bail_attr("coefficients", "expected a non-empty list of floats");
    }
    if intercepts.is_empty() {
        return node.bail_attr("intercepts", "expected one intercept per class (onnxruntime counts classes by them)");
    }
    let targets = intercepts.len();
    if !coefficients.len().is_multiple_of(targets) {
        return node.bail_attr(
            "coefficients",
            &format!("has {} values, not a multiple of the {targets} intercepts", coefficients.len()),
        );
    }
    if targets > 1 && labels.len() < targets {
        return node.bail_attr(
            "classlabels_ints",
            &format!("has {} labels for {targets} classes (one intercept each)", labels.len()),
        );
    }
    let two_columns = targets == 1 && labels.len() == 2;
    if two_columns && post_transform == PostTransform::Probit {
        return node.bail_attr(
            "post_transform",
            "PROBIT with one score and two labels has no defined second column (onnxruntime leaves it unset)",
        );
    }
    let features = coefficients.len() / targets;
    typed(LinearClassifier { label: label(node), labels, coefficients, intercepts, features, post_transform }, 2)
}

/// Invariants: `coefficients` is [targets, features] row-major with targets = intercepts.len()
/// >= 1, and there are at least `targets` labels when targets > 1.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LinearClassifier {
    label: String,
    labels: ClassLabels,
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    features: usize,
    post_transform: PostTransform,
}

/// Equality only merges identical nodes; a NaN coefficient just keeps them apart.
impl Eq for LinearClassifier {}

impl LinearClassifier {
    fn targets(&self) -> usize {
        self.intercepts.len()
    }

    fn two_columns(&self) -> bool {
        self.targets() == 1 && self.labels.len() == 2
    }

    /// (labels, scores) for `rows` rows of `x`.
    fn classify(&self, x: &[f32], rows: usize) -> TractResult<(Tensor, Tensor)> {
        let targets = self.targets();
        let mut scores = Vec::with_capacity(rows * targets);
        for r in 0..rows {
            let row = x.get(r * self.features..(r + 1) * self.features).unwrap_or(&[]);
            for (w, b) in self.coefficients.chunks(self.features.max(1)).zip(&self.intercepts) {
                scores.push(row.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + b);
            }
        }
        let labels = if targets == 1 {
            // The negative and positive labels: the two given, else 0 and 1 (or "0" and "1").
            let pair = match &self.labels {
                labels if labels.len() == 2 => labels.clone(),
                ClassLabels::Int64(_) => ClassLabels::Int64(vec![0, 1]),
                ClassLabels::String(_) => ClassLabels::String(vec!["0".into(), "1".into()]),
            };
            pair.pick(&scores.iter().map(|&s| usize::from(s > 0.0)).collect::<Vec<_>>())?
        } else {
            self.labels.pick(&scores.chunks(targets).map(argmax).collect::<Vec<_>>())?
        };
        let scores = if self.two_columns() {
            let out: Vec<f32> = scores.iter().flat_map(|&s| [1.0 - s, s]).collect();
            Tensor::from_shape(&[rows, 2], &out)?
        } else {
            if targets > 1 {
                self.post_transform.apply_rows(&mut scores, targets);
            } else if self.post_transform == PostTransform::Probit {
                scores.iter_mut().for_each(|s| *s = super::post_transform::probit(*s));
            }
            Tensor::from_shape(&[rows, targets], &scores)?
        };
        Ok((labels, scores))
    }
}

/// The first position of the largest score, as onnxruntime picks it.
pub(super) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

impl Op for LinearClassifier {
    fn name(&self) -> StaticName {
        "LinearClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for LinearClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let rows = check_features_now(&self.label, x.shape(), self.features)?;
        let (labels, scores) = self.classify(&as_f32(&x)?, rows)?;
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

impl TypedOp for LinearClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        let n = check_features(&self.label, x, self.features)?;
        let width = if self.two_columns() { 2 } else { self.targets() };
        Ok(tvec!(self.labels.datum_type().fact([n.clone()]), f32::fact([n, width.into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        labels: ClassLabels,
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        post_transform: PostTransform,
    ) -> LinearClassifier {
        let features = coefficients.len() / intercepts.len();
        LinearClassifier { label: "l".into(), labels, coefficients, intercepts, features, post_transform }
    }

    #[test]
    fn one_score_and_two_labels_gives_one_minus_score_untransformed() {
        let c = op(ClassLabels::Int64(vec![3, 9]), vec![1.0, -1.0], vec![0.5], PostTransform::Logistic);
        let (labels, scores) = c.classify(&[2.0, 0.0, 0.0, 1.0], 2).unwrap();
        assert_eq!(labels, tensor1(&[9i64, 3]));
        assert_eq!(scores, tensor2(&[[-1.5f32, 2.5], [1.5, -0.5]]));
    }

    #[test]
    fn several_scores_take_the_first_largest_and_the_transform() {
        let c = op(
            ClassLabels::String(vec!["a".into(), "b".into()]),
            vec![1.0, 1.0],
            vec![0.0, 0.0],
            PostTransform::Softmax,
        );
        let (labels, scores) = c.classify(&[3.0], 1).unwrap();
        assert_eq!(labels, tensor1(&["a".to_string()]));
        assert_eq!(scores, tensor2(&[[0.5f32, 0.5]]));
    }
}
