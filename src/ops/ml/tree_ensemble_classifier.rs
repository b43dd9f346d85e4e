//! TreeEnsembleClassifier (ai.onnx.ml 1 and 3): per row, the sum of the class weights of
//! the leaves reached, plus base values, then a label and the (transformed) scores.
//!
//! With more than two classes the label is the first class of highest score among those any
//! leaf weighs. Two classes follow onnxruntime's rules, which exporters rely on: when the
//! weights name one class only (a binary GBDT's single score), the label is the positive
//! class when that score is above 0.5 (all weights non-negative: a probability) or above 0
//! (a margin), and the scores become `[1 - s, s]`, or `[logistic(-s), logistic(s)]` with
//! LOGISTIC, or `[-s, s]`. One deliberate difference: where onnxruntime answers 0 or 1 for
//! two int64 classes weighted separately, whatever their labels, this answers the labels.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::class_labels::ClassLabels;
use super::ensemble::{Ensemble, Finish};
use super::forest::{Aggregate, Real, Scores};
use super::post_transform::{PostTransform, logistic, probit};
use super::{Built, label, tree_attributes, typed};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let labels = ClassLabels::parse(node, "classlabels_int64s", "classlabels_strings")?;
    if labels.len() < 2 {
        return node.bail_attr(
            "classlabels_int64s",
            &format!("has {} label: a classifier needs at least two classes", labels.len()),
        );
    }
    let post_transform = PostTransform::parse(node)?;
    let classes = labels.len();
    let trees = tree_attributes::parse(ctx, node, "class", classes)?;
    let base_values = trees.base_values;
    let allowed =
        if classes == 2 { base_values.len() <= 2 } else { base_values.is_empty() || base_values.len() == classes };
    if !allowed {
        return node.bail_attr(
            "base_values",
            &format!("has {} values for {classes} classes: give one per class, or none", base_values.len()),
        );
    }
    let binary = classes == 2 && trees.weighted_ids == 1;
    let op = TreeEnsembleClassifier {
        label: label(node),
        labels,
        ensemble: trees.ensemble,
        post_transform,
        base_values,
        binary,
        weights_all_positive: trees.weights_all_positive,
    };
    typed(op, 2)
}

/// Invariants: at least two labels, one class per label in the ensemble; `base_values` is
/// empty or has one value per class, or (two classes) one value.
#[derive(Debug, Clone)]
pub(super) struct TreeEnsembleClassifier {
    label: String,
    labels: ClassLabels,
    ensemble: Ensemble,
    post_transform: PostTransform,
    base_values: Vec<f64>,
    /// Two classes, and the weights name only one of them.
    binary: bool,
    weights_all_positive: bool,
}

impl PartialEq for TreeEnsembleClassifier {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.ensemble.same(&other.ensemble)
    }
}

impl Eq for TreeEnsembleClassifier {}

impl TreeEnsembleClassifier {
    /// The class index of one row and its scores in `out` (one per class), from the
    /// summed weights `s` and which classes any leaf weighed, `has`.
    fn classify<S: Real>(&self, s: &mut [S], has: &mut [bool], out: &mut [f32]) -> usize {
        let base = |k: usize| S::from_f64(self.base_values[k]);
        if s.len() > 2 {
            for k in 0..self.base_values.len() {
                s[k] = if has[k] { s[k] + base(k) } else { base(k) };
                has[k] = true;
            }
            let best = argmax_where(s, has);
            out.iter_mut().zip(s.iter()).for_each(|(o, v)| *o = v.to_f64() as f32);
            self.post_transform.apply_rows(out, out.len());
            return best;
        }
        // Two classes, as onnxruntime's TreeAggregatorClassifier has them.
        let mut second_column = None;
        let mut both = true;
        match self.base_values.len() {
            2 if has[1] => {
                s[1] = base(1) + s[0];
                s[0] = -s[1];
            }
            2 => {
                s[1] = s[1] + base(1);
                s[0] = s[0] + base(0);
            }
            1 => {
                s[0] = s[0] + base(0);
                both = has[1];
            }
            _ => {
                second_column = Some(Complement::Negated);
                both = has[1];
            }
        }
        let positive = if both && has[1] {
            s[1]
        } else if has[0] {
            s[0]
        } else {
            S::ZERO
        };
        let class = if self.binary {
            let threshold = if self.weights_all_positive { S::ONE / (S::ONE + S::ONE) } else { S::ZERO };
            second_column = Some(if self.weights_all_positive { Complement::OneMinus } else { Complement::Negated });
            usize::from(positive > threshold)
        } else {
            usize::from(positive > S::ZERO)
        };
        // onnxruntime writes a class no leaf weighed as 0, whatever base value it was given.
        let written = |k: usize| if has[k] { s[k] } else { S::ZERO };
        if both {
            out[0] = written(0).to_f64() as f32;
            out[1] = written(1).to_f64() as f32;
            self.post_transform.apply_rows(out, 2);
        } else {
            let v = written(0);
            let (first, second) = match (self.post_transform, second_column) {
                (PostTransform::Probit, _) => (probit(v.to_f64() as f32), 0.0),
                (_, Some(Complement::OneMinus)) => ((S::ONE - v).to_f64() as f32, v.to_f64() as f32),
                (PostTransform::Logistic, Some(Complement::Negated)) => {
                    (logistic(-v.to_f64() as f32), logistic(v.to_f64() as f32))
                }
                (_, Some(Complement::Negated)) => ((-v).to_f64() as f32, v.to_f64() as f32),
                (_, None) => (v.to_f64() as f32, 0.0),
            };
            out[0] = first;
            out[1] = second;
        }
        class
    }
}

/// The first class of highest score among those weighed, as onnxruntime picks it (0 if none).
fn argmax_where<S: Real>(scores: &[S], has: &[bool]) -> usize {
    let mut best: Option<usize> = None;
    for (k, (&v, &h)) in scores.iter().zip(has).enumerate() {
        if h && best.is_none_or(|b| v > scores[b]) {
            best = Some(k);
        }
    }
    best.unwrap_or(0)
}

/// How a single score of two classes becomes two columns.
#[derive(Debug, Clone, Copy)]
enum Complement {
    OneMinus,
    Negated,
}

impl Finish for TreeEnsembleClassifier {
    fn finish<S: Real>(&self, mut scores: Scores<S>, rows: usize) -> TractResult<TVec<TValue>> {
        let classes = self.labels.len();
        let mut out = vec![0f32; rows * classes];
        let mut picked = Vec::with_capacity(rows);
        let rows_of =
            scores.values.chunks_mut(classes).zip(scores.has.chunks_mut(classes)).zip(out.chunks_mut(classes));
        for ((s, has), out) in rows_of {
            picked.push(self.classify(s, has, out));
        }
        let labels = self.labels.pick(&picked)?;
        Ok(tvec!(labels.into_tvalue(), Tensor::from_shape(&[rows, classes], &out)?.into_tvalue()))
    }
}

impl Op for TreeEnsembleClassifier {
    fn name(&self) -> StaticName {
        "TreeEnsembleClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsembleClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        self.ensemble.run(&self.label, &x, Aggregate::Sum, self)
    }
}

impl TypedOp for TreeEnsembleClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let types = [DatumType::F32, DatumType::F64, DatumType::I64, DatumType::I32];
        let n = self.ensemble.rows_of(&self.label, inputs[0], &types)?;
        let classes = self.labels.len();
        Ok(tvec!(self.labels.datum_type().fact([n.clone()]), f32::fact([n, classes.into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::forest::{Draft, Forest, Naming};

    fn classifier(
        classes: usize,
        base_values: Vec<f64>,
        binary: bool,
        positive: bool,
        post_transform: PostTransform,
    ) -> TreeEnsembleClassifier {
        let drafts = vec![Draft::Leaf { weights: vec![(0, 1.0f32)] }];
        let naming = Naming { node: &|i| format!("{i}"), targets: "class_ids" };
        TreeEnsembleClassifier {
            label: "c".into(),
            labels: ClassLabels::Int64((0..classes as i64).map(|k| 10 + k).collect()),
            ensemble: Ensemble::f32(Forest::new(drafts, &[0], classes, &naming).unwrap()),
            post_transform,
            base_values,
            binary,
            weights_all_positive: positive,
        }
    }

    fn run(c: &TreeEnsembleClassifier, mut s: Vec<f32>, mut has: Vec<bool>) -> (usize, Vec<f32>) {
        let mut out = vec![f32::NAN; s.len()];
        let class = c.classify(&mut s, &mut has, &mut out);
        (class, out)
    }

    #[test]
    fn several_classes_take_base_values_and_the_first_highest_weighed_class() {
        let c = classifier(3, vec![0.0, 1.0, 0.0], false, true, PostTransform::None);
        assert_eq!(run(&c, vec![2.0, 1.0, 0.0], vec![true, true, false]), (0, vec![2.0, 2.0, 0.0]));
        let c = classifier(3, vec![], false, true, PostTransform::None);
        // An unweighed class never wins, even with the highest score.
        assert_eq!(run(&c, vec![-2.0, -1.0, 0.0], vec![true, true, false]).0, 1);
    }

    #[test]
    fn one_probability_of_two_classes_becomes_one_minus_and_itself() {
        let c = classifier(2, vec![], true, true, PostTransform::Logistic);
        assert_eq!(run(&c, vec![0.75, 0.0], vec![true, false]), (1, vec![0.25, 0.75]));
        assert_eq!(run(&c, vec![0.25, 0.0], vec![true, false]), (0, vec![0.75, 0.25]));
    }

    #[test]
    fn one_margin_of_two_classes_is_negated_or_made_logistic_pairs() {
        let c = classifier(2, vec![], true, false, PostTransform::Logistic);
        let (class, out) = run(&c, vec![2.0, 0.0], vec![true, false]);
        assert_eq!(class, 1);
        assert_eq!(out, vec![logistic(-2.0), logistic(2.0)]);
        let c = classifier(2, vec![], true, false, PostTransform::None);
        assert_eq!(run(&c, vec![-0.5, 0.0], vec![true, false]), (0, vec![0.5, -0.5]));
        let c = classifier(2, vec![], true, false, PostTransform::Probit);
        assert_eq!(run(&c, vec![0.5, 0.0], vec![true, false]).1, vec![probit(0.5), 0.0]);
    }

    #[test]
    fn two_weighed_classes_transform_both_scores() {
        let c = classifier(2, vec![], false, true, PostTransform::Softmax);
        let (class, out) = run(&c, vec![1.0, 1.0], vec![true, true]);
        assert_eq!((class, out), (1, vec![0.5, 0.5]));
    }
}
