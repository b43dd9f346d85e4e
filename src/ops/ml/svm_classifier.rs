//! SVMClassifier, as onnxruntime computes it. With support vectors (`vectors_per_class`) it
//! is libsvm's one-vs-one SVC: one decision value per pair of classes, a vote each, the label
//! of the most votes; with `prob_a`/`prob_b` the pairwise Platt probabilities are coupled
//! into class probabilities (Wu, Lin and Weng's method, with onnxruntime's stopping rule).
//! Without support vectors it is liblinear's one score per class (`coefficients` [classes,
//! features], `rho[0]` added to each).
//!
//! The binary quirks are onnxruntime's: a positive decision value votes for the first
//! class; without probabilities the two scores are `[-s, s]` (`[1 - s, s]` under a
//! transform); in liblinear mode with two classes the second label wins when the top score
//! is positive (mixed-sign weights) or at least 0.5 (all weights non-negative).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::class_labels::ClassLabels;
use super::linear_classifier::argmax;
use super::post_transform::{PostTransform, logistic};
use super::svm_kernel::Kernel;
use super::{Built, as_f32, check_features, check_features_now, is_numeric, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let labels = ClassLabels::parse(node, "classlabels_ints", "classlabels_strings")?;
    let kernel = Kernel::parse(node)?;
    let post_transform = PostTransform::parse(node)?;
    let floats = |name: &str| -> TractResult<Vec<f32>> { Ok(node.get_attr_opt_vec(name)?.unwrap_or_default()) };
    let (coefficients, rho, prob_a, prob_b) =
        (floats("coefficients")?, floats("rho")?, floats("prob_a")?, floats("prob_b")?);
    let support_vectors = floats("support_vectors")?;
    let per_class: Vec<i64> = node.get_attr_opt_vec("vectors_per_class")?.unwrap_or_default();
    let classes = labels.len();
    if coefficients.is_empty() {
        return node.bail_attr("coefficients", "expected a non-empty list of floats");
    }
    if prob_a.len() != prob_b.len() {
        return node.bail_attr("prob_b", &format!("has {} values, but prob_a has {}", prob_b.len(), prob_a.len()));
    }
    if let Some(n) = per_class.iter().find(|&&n| n < 0) {
        return node.bail_attr("vectors_per_class", &format!("expected non-negative counts, got {n}"));
    }
    let vectors: usize = per_class.iter().map(|&n| n as usize).sum();
    let mode = if vectors > 0 {
        let pairs = classes * classes.saturating_sub(1) / 2;
        if classes < 2 {
            return node.bail_attr("classlabels_ints", &format!("an SVC needs at least 2 classes, got {classes}"));
        }
        if per_class.len() != classes {
            return node
                .bail_attr("vectors_per_class", &format!("has {} counts for {classes} class labels", per_class.len()));
        }
        if support_vectors.is_empty() || support_vectors.len() % vectors != 0 {
            return node.bail_attr(
                "support_vectors",
                &format!(
                    "has {} values, expected a non-zero multiple of the {vectors} support vectors",
                    support_vectors.len()
                ),
            );
        }
        if coefficients.len() != (classes - 1) * vectors {
            return node.bail_attr(
                "coefficients",
                &format!(
                    "has {} values, expected (classes - 1) * vectors = {}",
                    coefficients.len(),
                    (classes - 1) * vectors
                ),
            );
        }
        if rho.len() != pairs {
            return node
                .bail_attr("rho", &format!("has {} values, expected one per pair of classes ({pairs})", rho.len()));
        }
        if !prob_a.is_empty() && prob_a.len() != pairs {
            return node.bail_attr(
                "prob_a",
                &format!("has {} values, expected one per pair of classes ({pairs})", prob_a.len()),
            );
        }
        let starts = per_class.iter().scan(0, |acc, &n| {
            let start = *acc;
            *acc += n as usize;
            Some(start)
        });
        let blocks = starts.zip(per_class.iter().map(|&n| n as usize)).collect();
        let features = support_vectors.len() / vectors;
        Mode::Svc { kernel, blocks, support_vectors, features, vectors }
    } else {
        if classes == 0 || coefficients.len() % classes != 0 {
            return node.bail_attr(
                "coefficients",
                &format!("has {} values, not a multiple of the {classes} classes (liblinear mode)", coefficients.len()),
            );
        }
        if rho.is_empty() {
            return node.bail_attr("rho", "expected at least one value");
        }
        Mode::Linear { features: coefficients.len() / classes }
    };
    let two_class_svc = matches!(mode, Mode::Svc { .. }) && classes == 2 && prob_a.is_empty();
    if two_class_svc && post_transform == PostTransform::Probit {
        return node.bail_attr(
            "post_transform",
            "PROBIT for a two-class SVC without probabilities has no defined second score (onnxruntime leaves it unset)",
        );
    }
    let positive_weights = coefficients.iter().all(|&c| c >= 0.0);
    typed(
        SvmClassifier {
            label: label(node),
            labels,
            mode,
            coefficients,
            rho,
            prob_a,
            prob_b,
            post_transform,
            positive_weights,
        },
        2,
    )
}

#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// Invariants: `blocks` has (start, count) per class covering `vectors` support vectors
    /// of `features` values each; coefficients are [classes - 1, vectors].
    Svc { kernel: Kernel, blocks: Vec<(usize, usize)>, support_vectors: Vec<f32>, features: usize, vectors: usize },
    /// Invariant: coefficients are [classes, features].
    Linear { features: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct SvmClassifier {
    label: String,
    labels: ClassLabels,
    mode: Mode,
    coefficients: Vec<f32>,
    rho: Vec<f32>,
    prob_a: Vec<f32>,
    prob_b: Vec<f32>,
    post_transform: PostTransform,
    positive_weights: bool,
}

/// Equality only merges identical nodes; a NaN coefficient just keeps them apart.
impl Eq for SvmClassifier {}

impl SvmClassifier {
    fn features(&self) -> usize {
        match &self.mode {
            Mode::Svc { features, .. } | Mode::Linear { features } => *features,
        }
    }

    fn classes(&self) -> usize {
        self.labels.len()
    }

    fn score_width(&self) -> usize {
        let k = self.classes();
        match self.mode {
            Mode::Svc { .. } if self.prob_a.is_empty() => {
                if k > 2 {
                    k * (k - 1) / 2
                } else {
                    2
                }
            }
            _ => k,
        }
    }

    /// The class index and the output scores of one row.
    fn row(&self, x: &[f32]) -> (usize, Vec<f32>) {
        let k = self.classes();
        match &self.mode {
            Mode::Linear { features } => {
                let mut scores: Vec<f32> = self
                    .coefficients
                    .chunks((*features).max(1))
                    .map(|w| {
                        x.iter().zip(w).map(|(a, b)| a * b).sum::<f32>() + self.rho.first().copied().unwrap_or(0.0)
                    })
                    .collect();
                let best = argmax(&scores);
                let top = scores.get(best).copied().unwrap_or(0.0);
                let class = if k == 2 && self.prob_a.is_empty() {
                    if (self.positive_weights && top >= 0.5) || (!self.positive_weights && top > 0.0) {
                        1
                    } else {
                        best
                    }
                } else {
                    best
                };
                self.post_transform.apply_rows(&mut scores, k);
                (class, scores)
            }
            Mode::Svc { kernel, blocks, support_vectors, features, vectors } => {
                let kernels: Vec<f32> =
                    support_vectors.chunks((*features).max(1)).map(|v| kernel.apply(x, v)).collect();
                // Products in f32 summed in f64, as onnxruntime does.
                let block = |(start, count): (usize, usize), row: usize| -> f64 {
                    (start..start + count)
                        .map(|m| {
                            let c = self.coefficients.get(row * vectors + m).copied().unwrap_or(0.0);
                            (c * kernels.get(m).copied().unwrap_or(0.0)) as f64
                        })
                        .sum()
                };
                let mut votes = vec![0usize; k];
                let mut decisions = Vec::with_capacity(k * (k - 1) / 2);
                for i in 0..k {
                    for j in i + 1..k {
                        let (bi, bj) =
                            (blocks.get(i).copied().unwrap_or((0, 0)), blocks.get(j).copied().unwrap_or((0, 0)));
                        let rho = self.rho.get(decisions.len()).copied().unwrap_or(0.0) as f64;
                        let sum = block(bi, j - 1) + block(bj, i) + rho;
                        if let Some(v) = votes.get_mut(if sum > 0.0 { i } else { j }) {
                            *v += 1;
                        }
                        decisions.push(sum as f32);
                    }
                }
                let class = first_max(&votes);
                let mut scores = if !self.prob_a.is_empty() {
                    self.couple(&decisions)
                } else if k == 2 {
                    let s = decisions.first().copied().unwrap_or(0.0);
                    if self.post_transform == PostTransform::None { vec![-s, s] } else { vec![1.0 - s, s] }
                } else {
                    decisions
                };
                if !(k == 2 && self.prob_a.is_empty()) {
                    let width = scores.len();
                    self.post_transform.apply_rows(&mut scores, width);
                }
                (class, scores)
            }
        }
    }

    /// Pairwise Platt probabilities coupled into one probability per class.
    fn couple(&self, decisions: &[f32]) -> Vec<f32> {
        let k = self.classes();
        let mut r = vec![0f32; k * k];
        let mut pairs = decisions.iter().zip(&self.prob_a).zip(&self.prob_b);
        for i in 0..k {
            for j in i + 1..k {
                let Some(((&d, &a), &b)) = pairs.next() else { break };
                let p = (1.0 - logistic(d * a + b)).clamp(1e-7, 1.0 - 1e-7);
                r[i * k + j] = p;
                r[j * k + i] = 1.0 - p;
            }
        }
        multiclass_probability(k, &r)
    }
}

fn first_max(votes: &[usize]) -> usize {
    let mut best = 0;
    for (i, &v) in votes.iter().enumerate() {
        if v > votes[best] {
            best = i;
        }
    }
    best
}

/// Wu, Lin and Weng's pairwise coupling, iterated as onnxruntime does (f32, at most 100
/// rounds, stopping when the largest error is under 0.005 / k).
fn multiclass_probability(k: usize, r: &[f32]) -> Vec<f32> {
    let mut q = vec![0f32; k * k];
    let mut qp = vec![0f32; k];
    let mut p = vec![1.0 / k as f32; k];
    for i in 0..k {
        for j in 0..i {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = q[j * k + i];
        }
        for j in i + 1..k {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = -r[j * k + i] * r[i * k + j];
        }
    }
    let eps = 0.005 / k as f32;
    for _ in 0..100 {
        let mut pqp = 0.0;
        for i in 0..k {
            qp[i] = (0..k).map(|j| q[i * k + j] * p[j]).sum();
            pqp += p[i] * qp[i];
        }
        let max_error = qp.iter().map(|&v| (v - pqp).abs()).fold(0.0, f32::max);
        if max_error < eps {
            break;
        }
        for i in 0..k {
            let diff = (-qp[i] + pqp) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

impl Op for SvmClassifier {
    fn name(&self) -> StaticName {
        "SVMClassifier".into()
    }

    op_as_typed_op!();
}

impl EvalOp for SvmClassifier {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let features = self.features();
        let rows = check_features_now(&self.label, x.shape(), features)?;
        let x = as_f32(&x)?;
        let width = self.score_width();
        let mut classes = Vec::with_capacity(rows);
        let mut scores = Vec::with_capacity(rows * width);
        for r in 0..rows {
            let (class, row_scores) = self.row(x.get(r * features..(r + 1) * features).unwrap_or(&[]));
            classes.push(class);
            scores.extend(row_scores);
        }
        let labels = self.labels.pick(&classes)?;
        Ok(tvec!(labels.into_tvalue(), Tensor::from_shape(&[rows, width], &scores)?.into_tvalue()))
    }
}

impl TypedOp for SvmClassifier {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        let n = check_features(&self.label, x, self.features())?;
        Ok(tvec!(self.labels.datum_type().fact([n.clone()]), f32::fact([n, self.score_width().into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_of_consistent_pairs_recovers_the_class_probabilities() {
        // Pairwise r_ij = p_i / (p_i + p_j) for p = (0.5, 0.3, 0.2).
        let p = [0.5f32, 0.3, 0.2];
        let mut r = vec![0f32; 9];
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    r[i * 3 + j] = p[i] / (p[i] + p[j]);
                }
            }
        }
        let got = multiclass_probability(3, &r);
        for (a, b) in got.iter().zip(p) {
            assert!((a - b).abs() < 1e-2, "{got:?}");
        }
    }
}
