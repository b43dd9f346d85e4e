//! The trees of TreeEnsembleRegressor and TreeEnsembleClassifier (ai.onnx.ml 1 and 3):
//! parallel `nodes_*` lists keyed by (tree id, node id), and leaf weights as parallel
//! `target_*` (regressor) or `class_*` (classifier) lists. Values come as floats, or as
//! doubles in the `*_as_tensor` attributes, which make the whole forest f64, as in
//! onnxruntime. Each tree's root is its first node in the lists.

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

use super::ensemble::Ensemble;
use super::forest::{Draft, Forest, Mode, Naming, Real};

/// The parsed attributes, with what the classifier's binary rules need to know of the weights.
pub(super) struct Trees {
    pub ensemble: Ensemble,
    pub base_values: Vec<f64>,
    /// How many distinct classes (or targets) the weights name.
    pub weighted_ids: usize,
    pub weights_all_positive: bool,
}

/// Parses the trees of `node`, whose weight lists are named `{prefix}_ids`,
/// `{prefix}_nodeids`, ... (`target` or `class`), for `targets` targets or classes.
pub(super) fn parse(ctx: &ParsingContext, node: &NodeProto, prefix: &str, targets: usize) -> TractResult<Trees> {
    let lists = Lists::read(ctx, node, prefix)?;
    let ids_attribute = if prefix == "class" { "class_ids" } else { "target_ids" };
    let ensemble = if lists.wide {
        Ensemble::F64(Arc::new(lists.forest::<f64>(node, targets, ids_attribute)?))
    } else {
        Ensemble::f32(lists.forest::<f32>(node, targets, ids_attribute)?)
    };
    let mut ids = lists.weight_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    Ok(Trees {
        ensemble,
        base_values: lists.base_values,
        weighted_ids: ids.len(),
        // As onnxruntime tests it: a NaN weight is not negative.
        weights_all_positive: !lists.weights.iter().any(|&w| w < 0.0),
    })
}

struct Lists {
    tree_ids: Vec<i64>,
    node_ids: Vec<i64>,
    features: Vec<i64>,
    modes: Vec<String>,
    values: Vec<f64>,
    true_ids: Vec<i64>,
    false_ids: Vec<i64>,
    missing_true: Vec<i64>,
    weight_ids: Vec<i64>,
    weight_node_ids: Vec<i64>,
    weight_tree_ids: Vec<i64>,
    weights: Vec<f64>,
    base_values: Vec<f64>,
    /// Some value came as a double tensor.
    wide: bool,
    prefix: String,
}

impl Lists {
    fn read(ctx: &ParsingContext, node: &NodeProto, prefix: &str) -> TractResult<Lists> {
        let ints = |name: &str| -> TractResult<Vec<i64>> { Ok(node.get_attr_opt_vec(name)?.unwrap_or_default()) };
        let (values, wide_values) = floats_or_tensor(ctx, node, "nodes_values")?;
        let (weights, wide_weights) = floats_or_tensor(ctx, node, &format!("{prefix}_weights"))?;
        let (base_values, wide_base) = floats_or_tensor(ctx, node, "base_values")?;
        let lists = Lists {
            tree_ids: ints("nodes_treeids")?,
            node_ids: ints("nodes_nodeids")?,
            features: ints("nodes_featureids")?,
            modes: node.get_attr_opt_vec("nodes_modes")?.unwrap_or_default(),
            values,
            true_ids: ints("nodes_truenodeids")?,
            false_ids: ints("nodes_falsenodeids")?,
            missing_true: ints("nodes_missing_value_tracks_true")?,
            weight_ids: ints(&format!("{prefix}_ids"))?,
            weight_node_ids: ints(&format!("{prefix}_nodeids"))?,
            weight_tree_ids: ints(&format!("{prefix}_treeids"))?,
            weights,
            base_values,
            wide: wide_values || wide_weights || wide_base,
            prefix: prefix.to_owned(),
        };
        lists.check_lengths(node)?;
        Ok(lists)
    }

    fn check_lengths(&self, node: &NodeProto) -> TractResult<()> {
        if self.tree_ids.is_empty() {
            return node.bail_attr("nodes_treeids", "expected at least one node");
        }
        let nodes = [
            ("nodes_nodeids", self.node_ids.len()),
            ("nodes_featureids", self.features.len()),
            ("nodes_modes", self.modes.len()),
            ("nodes_values", self.values.len()),
            ("nodes_truenodeids", self.true_ids.len()),
            ("nodes_falsenodeids", self.false_ids.len()),
        ];
        let optional = [("nodes_missing_value_tracks_true", self.missing_true.len())];
        parallel(node, ("nodes_treeids", self.tree_ids.len()), &nodes, &optional, "node")?;
        let p = &self.prefix;
        let weights = [
            (format!("{p}_nodeids"), self.weight_node_ids.len()),
            (format!("{p}_treeids"), self.weight_tree_ids.len()),
            (format!("{p}_weights"), self.weights.len()),
        ];
        let weights: Vec<(&str, usize)> = weights.iter().map(|(name, len)| (name.as_str(), *len)).collect();
        parallel(node, (&format!("{p}_ids"), self.weight_ids.len()), &weights, &[], "weight")
    }

    fn forest<S: Real>(&self, node: &NodeProto, targets: usize, ids_attribute: &'static str) -> TractResult<Forest<S>> {
        let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(self.tree_ids.len());
        let mut roots = Vec::new();
        let mut seen_trees = std::collections::HashSet::new();
        for (i, key) in self.tree_ids.iter().copied().zip(self.node_ids.iter().copied()).enumerate() {
            if index.insert(key, i).is_some() {
                return node.bail_attr("nodes_nodeids", &format!("node {} of tree {} appears twice", key.1, key.0));
            }
            if seen_trees.insert(key.0) {
                roots.push(i);
            }
        }
        let describe = |i: usize| format!("node {} of tree {}", self.node_ids[i], self.tree_ids[i]);
        let mut drafts = Vec::with_capacity(self.tree_ids.len());
        for i in 0..self.tree_ids.len() {
            let draft = match mode(&self.modes[i]) {
                None => {
                    return node.bail_attr(
                        "nodes_modes",
                        &format!("{} has mode '{}', expected BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ or LEAF", describe(i), self.modes[i]),
                    );
                }
                Some(None) => Draft::Leaf { weights: vec![] },
                Some(Some(mode)) => {
                    let child = |attribute: &str, id: i64| match index.get(&(self.tree_ids[i], id)) {
                        Some(&c) => Ok(c),
                        None => node.bail_attr(
                            attribute,
                            &format!(
                                "{} branches to node {id}, which tree {} does not have",
                                describe(i),
                                self.tree_ids[i]
                            ),
                        ),
                    };
                    let feature = self.features[i];
                    if feature < 0 {
                        return node.bail_attr("nodes_featureids", &format!("{} tests feature {feature}", describe(i)));
                    }
                    Draft::Branch {
                        feature: feature as usize,
                        mode,
                        threshold: S::from_f64(self.values[i]),
                        members: vec![],
                        missing_true: self.missing_true.get(i) == Some(&1),
                        next: [
                            child("nodes_truenodeids", self.true_ids[i])?,
                            child("nodes_falsenodeids", self.false_ids[i])?,
                        ],
                    }
                }
            };
            drafts.push(draft);
        }
        let p = &self.prefix;
        for (k, &id) in self.weight_ids.iter().enumerate() {
            let key = (self.weight_tree_ids[k], self.weight_node_ids[k]);
            let Some(&leaf) = index.get(&key) else {
                return node.bail_attr(
                    &format!("{p}_nodeids"),
                    &format!("weight {k} is for node {} of tree {}, which does not exist", key.1, key.0),
                );
            };
            if id < 0 || id as u64 >= targets as u64 {
                return node.bail_attr(ids_attribute, &format!("weight {k} is for {p} {id}, but there are {targets}"));
            }
            // onnxruntime ignores weights on branches (old onnxmltools wrote some).
            if let Draft::Leaf { weights } = &mut drafts[leaf] {
                weights.push((id as usize, S::from_f64(self.weights[k])));
            }
        }
        Forest::new(drafts, &roots, targets, &Naming { node: &describe, targets: ids_attribute })
            .or_else(|e| node.bail_attr(e.attribute, &e.message))
    }
}

/// The `n_targets` attribute of the regressors: a positive count that fits a node's u32.
pub(super) fn n_targets(node: &NodeProto) -> TractResult<usize> {
    let targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(0);
    if targets < 1 || targets > i64::from(u32::MAX) {
        return node.bail_attr("n_targets", &format!("expected a positive count of targets, got {targets}"));
    }
    Ok(targets as usize)
}

/// Refuses parallel attribute lists that do not all have as many entries as `base`, one per
/// `item`; the `optional` ones may also be empty.
pub(super) fn parallel(
    node: &NodeProto,
    base: (&str, usize),
    lists: &[(&str, usize)],
    optional: &[(&str, usize)],
    item: &str,
) -> TractResult<()> {
    let (base_name, n) = base;
    for &(name, len) in lists.iter().chain(optional.iter().filter(|(_, len)| *len != 0)) {
        if len != n {
            return node.bail_attr(
                name,
                &format!("has {len} entries, but {base_name} has {n}: the lists give one entry per {item}"),
            );
        }
    }
    Ok(())
}

/// A branch's comparison; `Some(None)` for LEAF, `None` for anything else.
fn mode(name: &str) -> Option<Option<Mode>> {
    Some(Some(match name {
        "BRANCH_LEQ" => Mode::Leq,
        "BRANCH_LT" => Mode::Lt,
        "BRANCH_GTE" => Mode::Gte,
        "BRANCH_GT" => Mode::Gt,
        "BRANCH_EQ" => Mode::Eq,
        "BRANCH_NEQ" => Mode::Neq,
        "LEAF" => return Some(None),
        _ => return None,
    }))
}

/// `{name}` as floats or `{name}_as_tensor` as doubles (not both), and whether it was the
/// tensor. Absent is empty.
pub(super) fn floats_or_tensor(ctx: &ParsingContext, node: &NodeProto, name: &str) -> TractResult<(Vec<f64>, bool)> {
    let floats: Option<Vec<f32>> = node.get_attr_opt_vec(name)?;
    let tensor_name = format!("{name}_as_tensor");
    let tensor = node.get_attr_opt::<&TensorProto>(&tensor_name)?;
    match (floats, tensor) {
        (Some(_), Some(_)) => node.bail_attr(&tensor_name, &format!("only one of {name} and {tensor_name} may be set")),
        (None, Some(t)) => Ok((tensor_values(ctx, node, &tensor_name, t)?.0, true)),
        (floats, None) => Ok((floats.unwrap_or_default().into_iter().map(f64::from).collect(), false)),
    }
}

/// The values of a float or double tensor attribute, and which of the two it is.
pub(super) fn tensor_values(
    ctx: &ParsingContext,
    node: &NodeProto,
    name: &str,
    t: &TensorProto,
) -> TractResult<(Vec<f64>, DatumType)> {
    let t = ctx.load_tensor(t)?;
    match t.datum_type() {
        dt @ (DatumType::F32 | DatumType::F64) => {
            Ok((t.cast_to::<f64>()?.try_as_plain_ram()?.as_slice::<f64>()?.to_vec(), dt))
        }
        other => node.bail_attr(name, &format!("expected a float or double tensor, got {other:?}")),
    }
}
