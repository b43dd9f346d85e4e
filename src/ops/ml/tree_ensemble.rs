//! TreeEnsemble (ai.onnx.ml 5): interior nodes as `nodes_*` lists indexed by position,
//! leaves as `leaf_*` lists, each branch saying whether its children are nodes or leaves;
//! BRANCH_MEMBER tests membership of a set (the sets listed in `membership_values`,
//! separated by NaN, in the order of the MEMBER nodes). Thresholds, weights and output share
//! the input's element type. The output is [N, n_targets]: each target's aggregate, then
//! the post transform.
//!
//! `post_transform` is read as the specification numbers it: NONE 0, SOFTMAX 1, LOGISTIC 2,
//! SOFTMAX_ZERO 3, PROBIT 4. onnxruntime 1.23 reads 1 as LOGISTIC and 2 as SOFTMAX (its
//! issue #26596); transforms apply to single targets too, as the specification says.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

use super::ensemble::{Ensemble, Finish};
use super::forest::{Aggregate, Draft, Forest, Mode, Naming, Real, Scores};
use super::post_transform::PostTransform;
use super::tree_attributes::{n_targets, parallel, tensor_values};
use super::tree_ensemble_regressor::{regress, transformed};
use super::{Built, label, typed};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let targets = n_targets(node)?;
    let aggregate = match node.get_attr_opt::<i64>("aggregate_function")?.unwrap_or(1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => {
            return node.bail_attr(
                "aggregate_function",
                &format!("expected 0 (AVERAGE), 1 (SUM), 2 (MIN) or 3 (MAX), got {other}"),
            );
        }
    };
    let post_transform = match node.get_attr_opt::<i64>("post_transform")?.unwrap_or(0) {
        0 => PostTransform::None,
        1 => PostTransform::Softmax,
        2 => PostTransform::Logistic,
        3 => PostTransform::SoftmaxZero,
        4 => PostTransform::Probit,
        other => {
            return node.bail_attr(
                "post_transform",
                &format!("expected 0 (NONE), 1 (SOFTMAX), 2 (LOGISTIC), 3 (SOFTMAX_ZERO) or 4 (PROBIT), got {other}"),
            );
        }
    };
    let splits = tensor(ctx, node, "nodes_splits")?;
    let leaf_weights = tensor(ctx, node, "leaf_weights")?;
    if splits.1 != leaf_weights.1 {
        return node.bail_attr(
            "leaf_weights",
            &format!("are {:?}, but nodes_splits are {:?}: they must share one type", leaf_weights.1, splits.1),
        );
    }
    let lists = Lists::read(ctx, node, splits.0, leaf_weights.0)?;
    let ensemble = match splits.1 {
        DatumType::F64 => Ensemble::F64(Arc::new(lists.forest(node, targets)?)),
        _ => Ensemble::f32(lists.forest(node, targets)?),
    };
    typed(TreeEnsemble { label: label(node), ensemble, aggregate, post_transform, targets }, 1)
}

/// A required float or double tensor attribute: its values and element type.
fn tensor(ctx: &ParsingContext, node: &NodeProto, name: &str) -> TractResult<(Vec<f64>, DatumType)> {
    let Some(t) = node.get_attr_opt::<&TensorProto>(name)? else {
        return node.bail_attr(name, "is required (a float or double tensor)");
    };
    tensor_values(ctx, node, name, t)
}

struct Lists {
    roots: Vec<i64>,
    features: Vec<i64>,
    modes: Vec<u8>,
    splits: Vec<f64>,
    true_ids: Vec<i64>,
    true_leafs: Vec<i64>,
    false_ids: Vec<i64>,
    false_leafs: Vec<i64>,
    missing_true: Vec<i64>,
    members: Vec<f64>,
    leaf_targets: Vec<i64>,
    leaf_weights: Vec<f64>,
}

impl Lists {
    fn read(ctx: &ParsingContext, node: &NodeProto, splits: Vec<f64>, leaf_weights: Vec<f64>) -> TractResult<Lists> {
        let ints = |name: &str| -> TractResult<Vec<i64>> { Ok(node.get_attr_opt_vec(name)?.unwrap_or_default()) };
        let modes = match node.get_attr_opt::<&TensorProto>("nodes_modes")? {
            None => return node.bail_attr("nodes_modes", "is required (a uint8 tensor)"),
            Some(t) => {
                let t = ctx.load_tensor(t)?;
                if t.datum_type() != DatumType::U8 {
                    return node
                        .bail_attr("nodes_modes", &format!("expected a uint8 tensor, got {:?}", t.datum_type()));
                }
                t.try_as_plain_ram()?.as_slice::<u8>()?.to_vec()
            }
        };
        let members = match node.get_attr_opt::<&TensorProto>("membership_values")? {
            Some(t) => tensor_values(ctx, node, "membership_values", t)?.0,
            None => vec![],
        };
        let lists = Lists {
            roots: ints("tree_roots")?,
            features: ints("nodes_featureids")?,
            modes,
            splits,
            true_ids: ints("nodes_truenodeids")?,
            true_leafs: ints("nodes_trueleafs")?,
            false_ids: ints("nodes_falsenodeids")?,
            false_leafs: ints("nodes_falseleafs")?,
            missing_true: ints("nodes_missing_value_tracks_true")?,
            members,
            leaf_targets: ints("leaf_targetids")?,
            leaf_weights,
        };
        lists.check_lengths(node)?;
        Ok(lists)
    }

    fn check_lengths(&self, node: &NodeProto) -> TractResult<()> {
        if self.roots.is_empty() {
            return node.bail_attr("tree_roots", "expected at least one tree");
        }
        let nodes = [
            ("nodes_modes", self.modes.len()),
            ("nodes_splits", self.splits.len()),
            ("nodes_truenodeids", self.true_ids.len()),
            ("nodes_trueleafs", self.true_leafs.len()),
            ("nodes_falsenodeids", self.false_ids.len()),
            ("nodes_falseleafs", self.false_leafs.len()),
        ];
        let optional = [("nodes_missing_value_tracks_true", self.missing_true.len())];
        parallel(node, ("nodes_featureids", self.features.len()), &nodes, &optional, "node")?;
        parallel(
            node,
            ("leaf_targetids", self.leaf_targets.len()),
            &[("leaf_weights", self.leaf_weights.len())],
            &[],
            "leaf",
        )
    }

    /// The sets of the MEMBER nodes, in order.
    fn sets(&self, node: &NodeProto) -> TractResult<Vec<Vec<f64>>> {
        let mut sets: Vec<Vec<f64>> = self.members.split(|v| v.is_nan()).map(<[f64]>::to_vec).collect();
        if self.members.last().is_some_and(|v| v.is_nan()) {
            sets.pop();
        }
        let wanted = self.modes.iter().filter(|&&m| m == Mode::Member as u8).count();
        if self.members.is_empty() {
            sets.clear();
        }
        if sets.len() != wanted {
            return node.bail_attr(
                "membership_values",
                &format!("holds {} sets (separated by NaN), but {wanted} nodes are BRANCH_MEMBER", sets.len()),
            );
        }
        Ok(sets)
    }

    fn forest<S: Real>(&self, node: &NodeProto, targets: usize) -> TractResult<Forest<S>> {
        let n = self.features.len();
        let leaves = self.leaf_targets.len();
        let mut sets = self.sets(node)?.into_iter();
        let mut drafts = Vec::with_capacity(n + leaves);
        for i in 0..n {
            let mode = match self.modes[i] {
                0 => Mode::Leq,
                1 => Mode::Lt,
                2 => Mode::Gte,
                3 => Mode::Gt,
                4 => Mode::Eq,
                5 => Mode::Neq,
                6 => Mode::Member,
                other => return node.bail_attr("nodes_modes", &format!("node {i} has mode {other}, expected 0 to 6")),
            };
            let child = |ids: &[i64], leafs: &[i64], side: &str| -> TractResult<usize> {
                let (id, is_leaf) = (ids[i], leafs[i] != 0);
                let count = if is_leaf { leaves } else { n };
                if id < 0 || id as u64 >= count as u64 {
                    let kind = if is_leaf { "leaf" } else { "node" };
                    return node.bail_attr(
                        &format!("nodes_{side}nodeids"),
                        &format!("node {i} branches to {kind} {id}, but there are {count} {kind}s"),
                    );
                }
                Ok(if is_leaf { n + id as usize } else { id as usize })
            };
            if self.features[i] < 0 {
                return node.bail_attr("nodes_featureids", &format!("node {i} tests feature {}", self.features[i]));
            }
            let members = if mode == Mode::Member { sets.next().unwrap_or_default() } else { vec![] };
            drafts.push(Draft::Branch {
                feature: self.features[i] as usize,
                mode,
                threshold: S::from_f64(self.splits[i]),
                members: members.into_iter().map(S::from_f64).collect(),
                missing_true: self.missing_true.get(i) == Some(&1),
                next: [
                    child(&self.true_ids, &self.true_leafs, "true")?,
                    child(&self.false_ids, &self.false_leafs, "false")?,
                ],
            });
        }
        for (k, (&t, &w)) in self.leaf_targets.iter().zip(&self.leaf_weights).enumerate() {
            if t < 0 || t as u64 >= targets as u64 {
                return node
                    .bail_attr("leaf_targetids", &format!("leaf {k} is for target {t}, but n_targets is {targets}"));
            }
            drafts.push(Draft::Leaf { weights: vec![(t as usize, S::from_f64(w))] });
        }
        let mut roots = Vec::with_capacity(self.roots.len());
        for &r in &self.roots {
            if r < 0 || r as u64 >= n as u64 {
                return node.bail_attr("tree_roots", &format!("a tree starts at node {r}, but there are {n} nodes"));
            }
            let r = r as usize;
            // A tree that is one leaf: a root whose two branches reach the same leaf, read as
            // the leaf at the root's own position, as onnxruntime and the ONNX reference do.
            if self.true_leafs[r] != 0 && self.false_leafs[r] != 0 && self.true_ids[r] == self.false_ids[r] {
                if r >= leaves {
                    return node
                        .bail_attr("tree_roots", &format!("tree root {r} is a leaf, but there are {leaves} leaves"));
                }
                roots.push(n + r);
            } else {
                roots.push(r);
            }
        }
        let describe = |i: usize| if i < n { format!("node {i}") } else { format!("leaf {}", i - n) };
        Forest::new(drafts, &roots, targets, &Naming { node: &describe, targets: "leaf_targetids" })
            .or_else(|e| node.bail_attr(e.attribute, &e.message))
    }
}

#[derive(Debug, Clone)]
pub(super) struct TreeEnsemble {
    label: String,
    ensemble: Ensemble,
    aggregate: Aggregate,
    post_transform: PostTransform,
    targets: usize,
}

impl PartialEq for TreeEnsemble {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.ensemble.same(&other.ensemble)
    }
}

impl Eq for TreeEnsemble {}

impl Finish for TreeEnsemble {
    fn finish<S: Real>(&self, scores: Scores<S>, rows: usize) -> TractResult<TVec<TValue>> {
        let shape = [rows, self.targets];
        if self.post_transform == PostTransform::None && S::WIDE {
            let y: Vec<f64> = regress(scores, &[], self.targets).into_iter().map(S::to_f64).collect();
            return Ok(tvec!(Tensor::from_shape(&shape, &y)?.into_tvalue()));
        }
        let out = Tensor::from_shape(&shape, &transformed(scores, &[], self.post_transform, self.targets))?;
        Ok(tvec!(if S::WIDE { out.cast_to::<f64>()?.into_owned() } else { out }.into_tvalue()))
    }
}

impl Op for TreeEnsemble {
    fn name(&self) -> StaticName {
        "TreeEnsemble".into()
    }

    op_as_typed_op!();
}

impl EvalOp for TreeEnsemble {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        self.ensemble.run(&self.label, &x, self.aggregate, self)
    }
}

impl TypedOp for TreeEnsemble {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let dt = self.ensemble.datum_type();
        let n = self.ensemble.rows_of(&self.label, inputs[0], &[dt])?;
        Ok(tvec!(dt.fact([n, self.targets.into()])))
    }

    as_op!();
}
