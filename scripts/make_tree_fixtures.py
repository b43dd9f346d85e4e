#!/usr/bin/env python3
"""Build the tree-ensemble fixtures of tests/core/ml_ops.rs: models, inputs, onnxruntime outputs.

Models are trained with scikit-learn and LightGBM on the data sets scikit-learn ships
(diabetes, breast_cancer, iris, wine, digits) and exported with skl2onnx and onnxmltools;
where exporters never emit an option (MIN and MAX aggregates, every post transform, other
branch modes, base values, int64 input, ai.onnx.ml 1, TreeEnsemble of ai.onnx.ml 5 with
BRANCH_MEMBER) the node is edited, or rewritten, from the trained model's trees.

onnxruntime gives every expected output except where it contradicts the specification
(each such case's note says so): a single-target regressor's LOGISTIC and SOFTMAX, which
onnxruntime ignores, and TreeEnsemble's post_transform numbering, which it swaps (1 is
SOFTMAX, 2 LOGISTIC). There the expected output is onnxruntime's untransformed one with
the transform applied by numpy.

Writes into OUT_DIR (default tests/fixtures/trees), in the format of make_ml_fixtures.py.

Usage: /work/main/.cache/venv/bin/python scripts/make_tree_fixtures.py [OUT_DIR]
"""
import os
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import ML, Fixtures, data, graph, isolate, ml_node, reference, set_attr, single, vi  # noqa: E402

warnings.filterwarnings("ignore")


def _ints_not_bools():
    """skl2onnx 1.19 writes nodes_missing_value_tracks_true as Python booleans, which
    protobuf 7 refuses in an ints attribute: make them ints where onnx makes attributes."""
    make = helper.make_attribute

    def make_attribute(key, value, *args, **kwargs):
        if isinstance(value, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in value):
            value = [int(v) for v in value]
        return make(key, value, *args, **kwargs)
    helper.make_attribute = make_attribute


_ints_not_bools()
FL, DB, I64, STR = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.STRING
OPSET = {"": 17, ML: 3}


def attr(node, name):
    a = next((a for a in node.attribute if a.name == name), None)
    return None if a is None else helper.get_attribute_value(a)


def tree_node(onx, op="TreeEnsemble"):
    return next(n for n in onx.graph.node if n.op_type.startswith(op))


def with_ml_opset(m, version):
    for o in m.opset_import:
        if o.domain == ML:
            o.version = version
    return m


def logistic(x):
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def softmax(x):
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def transformed(model_none, transform):
    """Expected outputs: `model_none` (the same model with post_transform NONE) run by
    onnxruntime, then `transform` applied to its one output."""
    b = model_none.SerializeToString()

    def expect(feeds):
        out = reference(b, feeds)
        return {k: transform(v) for k, v in out.items()}
    return expect


def regressor_trees(node):
    """The trees of a TreeEnsembleRegressor as {tree: {node: dict}} with leaf weights."""
    trees = {}
    for i, (t, n) in enumerate(zip(attr(node, "nodes_treeids"), attr(node, "nodes_nodeids"))):
        trees.setdefault(t, {})[n] = dict(
            mode=attr(node, "nodes_modes")[i].decode(), feature=attr(node, "nodes_featureids")[i],
            value=attr(node, "nodes_values")[i], true=attr(node, "nodes_truenodeids")[i],
            false=attr(node, "nodes_falsenodeids")[i],
            missing=(attr(node, "nodes_missing_value_tracks_true") or [0] * (i + 1))[i], weights=[])
    for t, n, k, w in zip(attr(node, "target_treeids"), attr(node, "target_nodeids"), attr(node, "target_ids"),
                          attr(node, "target_weights")):
        trees[t][n]["weights"].append((k, w))
    return trees


V5_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5}


def to_v5(node, n_targets, x_elem=FL, aggregate=1, post_transform=0, member=None, name="treeensemble_0"):
    """A TreeEnsemble (ai.onnx.ml 5) node with the trees of a TreeEnsembleRegressor. A leaf
    with weights for several targets becomes one tree per target (v5 leaves weigh one).
    `member(feature, threshold)`, where given, turns a BRANCH_LEQ node into BRANCH_MEMBER of
    the set it returns (or keeps it, returning None)."""
    dtype = np.float64 if x_elem == DB else np.float32
    nodes = dict(featureids=[], modes=[], splits=[], truenodeids=[], trueleafs=[], falsenodeids=[], falseleafs=[], missing=[])
    leaf_targets, leaf_weights, roots, members = [], [], [], []
    for tree in regressor_trees(node).values():
        targets = sorted({k for n in tree.values() for k, _ in n["weights"]})
        for target in targets:
            index = {}
            for nid, n in sorted(tree.items()):
                if n["mode"] != "LEAF":
                    index[nid] = len(nodes["featureids"]) + len(index)
            leaf_index = {}
            for nid, n in sorted(tree.items()):
                if n["mode"] == "LEAF":
                    leaf_index[nid] = len(leaf_targets)
                    leaf_targets.append(target)
                    leaf_weights.append(sum(w for k, w in n["weights"] if k == target))
            roots.append(index[0])
            for nid, n in sorted(tree.items()):
                if n["mode"] == "LEAF":
                    continue
                mode, split = V5_MODES[n["mode"]], n["value"]
                if member and n["mode"] == "BRANCH_LEQ":
                    s = member(n["feature"], n["value"])
                    if s is not None:
                        mode = 6
                        members.extend(list(s) + [np.nan])
                nodes["featureids"].append(n["feature"])
                nodes["modes"].append(mode)
                nodes["splits"].append(split)
                nodes["missing"].append(int(n["missing"]))
                for side in ["true", "false"]:
                    child = n[side]
                    is_leaf = tree[child]["mode"] == "LEAF"
                    nodes[f"{side}nodeids"].append(leaf_index[child] if is_leaf else index[child])
                    nodes[f"{side}leafs"].append(int(is_leaf))
    attrs = dict(
        n_targets=n_targets, aggregate_function=aggregate, post_transform=post_transform, tree_roots=roots,
        nodes_featureids=nodes["featureids"], nodes_truenodeids=nodes["truenodeids"], nodes_trueleafs=nodes["trueleafs"],
        nodes_falsenodeids=nodes["falsenodeids"], nodes_falseleafs=nodes["falseleafs"],
        nodes_modes=numpy_helper.from_array(np.array(nodes["modes"], np.uint8)),
        nodes_splits=numpy_helper.from_array(np.array(nodes["splits"], dtype)),
        leaf_targetids=leaf_targets, leaf_weights=numpy_helper.from_array(np.array(leaf_weights, dtype)))
    if any(nodes["missing"]):
        attrs["nodes_missing_value_tracks_true"] = nodes["missing"]
    if members:
        attrs["membership_values"] = numpy_helper.from_array(np.array(members, dtype))
    n = helper.make_node("TreeEnsemble", ["X"], ["Y"], domain=ML, name=name, **attrs)
    return n


def v5_model(node, x_elem, features, n_targets):
    g = helper.make_graph([node], "v5", [vi("X", x_elem, [None, features])], [vi("Y", x_elem, [None, n_targets])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(ML, 5)])
    m.ir_version = 10
    return m


def as_double(node):
    """Moves nodes_values, the weights and base_values to their *_as_tensor (double) forms,
    nudged off their float values so that f32 and f64 evaluation differ."""
    for name in ["nodes_values", "target_weights", "class_weights", "base_values"]:
        values = attr(node, name)
        if values is not None:
            set_attr(node, name, None)
            nudged = np.array(values, np.float64) * (1 + 1e-9)
            node.attribute.append(helper.make_attribute(f"{name}_as_tensor", numpy_helper.from_array(nudged)))


def holes(X, rng, share=0.1):
    X = X.copy()
    X[rng.random(X.shape) < share] = np.nan
    return X


def regressors(f, d, rng):
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
    from skl2onnx import to_onnx
    Xd, yd = d["diabetes"]
    gb = GradientBoostingRegressor(n_estimators=60, max_depth=3, random_state=0).fit(Xd, yd)
    f.add("gbdt_regressor_diabetes", to_onnx(gb, Xd[:1], target_opset=OPSET), [{"X": Xd[:1]}, {"X": Xd}],
          rtol=1e-5, atol=1e-3, note="GradientBoostingRegressor: SUM with a base value, batch 1 and 442 rows")
    m = with_ml_opset(isolate(to_onnx(gb, Xd[:1], target_opset=OPSET), "TreeEnsembleRegressor", outs=[(FL, [None, 1])]), 1)
    f.add("gbdt_regressor_ml_opset1_diabetes", m, [{"X": Xd[::9]}], rtol=1e-5, atol=1e-3,
          note="TreeEnsembleRegressor of ai.onnx.ml 1")
    m = isolate(to_onnx(gb, Xd[:1], target_opset=OPSET), "TreeEnsembleRegressor", outs=[(FL, [None, 1])], edit=as_double)
    m.graph.input[0].type.tensor_type.elem_type = DB
    f.add("gbdt_regressor_double_diabetes", m, [{"X": Xd[:1].astype(np.float64)}, {"X": Xd[::3].astype(np.float64) * 1.001}],
          rtol=1e-6, atol=1e-4, note="double input, thresholds and weights as double tensors (*_as_tensor): computed in f64")

    rf = RandomForestRegressor(n_estimators=8, min_samples_leaf=4, random_state=0).fit(Xd, yd)
    onx = to_onnx(rf, Xd[:1], target_opset=OPSET)
    f.add("random_forest_regressor_diabetes", onx, [{"X": Xd[:1]}, {"X": Xd}], rtol=1e-5, atol=1e-3,
          note="RandomForestRegressor: unpruned, uneven trees")
    for agg in ["AVERAGE", "MIN", "MAX"]:
        m = isolate(onx, "TreeEnsembleRegressor", outs=[(FL, [None, 1])], edit=lambda n, a=agg: set_attr(n, "aggregate_function", a))
        f.add(f"random_forest_regressor_{agg.lower()}_diabetes", m, [{"X": Xd[:1]}, {"X": Xd[::4]}], rtol=1e-5, atol=1e-3,
              note=f"aggregate_function {agg}")
    for mode in ["BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"]:
        def edit(n, mode=mode):
            set_attr(n, "nodes_modes", [mode if m != b"LEAF" else "LEAF" for m in attr(n, "nodes_modes")])
        m = isolate(onx, "TreeEnsembleRegressor", outs=[(FL, [None, 1])], edit=edit)
        ties = np.concatenate([Xd[::5], np.array([attr(tree_node(onx), "nodes_values")[:10]] , np.float32)])
        f.add(f"random_forest_regressor_{mode.lower()}_diabetes", m, [{"X": ties}], rtol=1e-5, atol=1e-3,
              note=f"every branch {mode}, rows on thresholds included")

    two = np.stack([(yd - yd.mean()) / yd.std(), Xd[:, 2] * 10], 1)
    rf2 = RandomForestRegressor(n_estimators=6, max_depth=6, random_state=0).fit(Xd, two)
    onx2 = to_onnx(rf2, Xd[:1], target_opset=OPSET)
    for pt in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
        m = isolate(onx2, "TreeEnsembleRegressor", outs=[(FL, [None, 2])], edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"random_forest_regressor_two_targets_{pt.lower()}_diabetes", m, [{"X": Xd[:1]}, {"X": Xd[::6]}],
              rtol=1e-5, atol=1e-4, note=f"2 targets, leaves weighing both, post_transform {pt}")
    base = lambda n: set_attr(n, "base_values", [0.5, -2.0])  # noqa: E731
    m = isolate(onx2, "TreeEnsembleRegressor", outs=[(FL, [None, 2])], edit=base)
    f.add("random_forest_regressor_two_targets_base_values_diabetes", m, [{"X": Xd[::10]}], atol=1e-4, note="base_values per target")

    y01 = ((yd - yd.min()) / (yd.max() - yd.min()) * 0.8 + 0.1).astype(np.float32)
    gb01 = GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(Xd, y01)
    onx01 = to_onnx(gb01, Xd[:1], target_opset=OPSET)
    none = isolate(onx01, "TreeEnsembleRegressor", outs=[(FL, [None, 1])])
    m = isolate(onx01, "TreeEnsembleRegressor", outs=[(FL, [None, 1])], edit=lambda n: set_attr(n, "post_transform", "PROBIT"))
    f.add("gbdt_regressor_one_target_probit_diabetes", m, [{"X": Xd[::7]}], note="1 target, post_transform PROBIT")
    for pt, fn in [("LOGISTIC", logistic), ("SOFTMAX", softmax)]:
        m = isolate(onx01, "TreeEnsembleRegressor", outs=[(FL, [None, 1])], edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"gbdt_regressor_one_target_{pt.lower()}_diabetes", m, [{"X": Xd[::7]}], expect=transformed(none, fn),
              note=f"1 target, post_transform {pt}: applied, as the specification says (onnxruntime ignores it, its issue #26596)")

    nan = holes(Xd, rng)
    hgb = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(nan, yd)
    f.add("hist_gbdt_regressor_nan_diabetes", to_onnx(hgb, nan[:1], target_opset=OPSET), [{"X": nan[:1]}, {"X": nan}],
          rtol=1e-5, atol=1e-3, note="HistGradientBoostingRegressor trained with NaN: missing_value_tracks_true")
    f.add("random_forest_regressor_nan_rows_diabetes", onx, [{"X": nan[:40]}], rtol=1e-5, atol=1e-3,
          note="NaN in a model without missing values: the false branch")

    m = isolate(to_onnx(gb, Xd[:1], target_opset=OPSET), "TreeEnsembleRegressor", outs=[(FL, [None, 1])])
    m.graph.input[0].type.tensor_type.elem_type = DB
    f.add("gbdt_regressor_float_trees_double_input_diabetes", m, [{"X": Xd[::3].astype(np.float64) * (1 + 1e-9)}], rtol=1e-7, atol=1e-6,
          note="double input, float attributes: thresholds, weights and sums in f64, as onnxruntime computes them")

    # Two targets, some leaves weighing only the first: onnxruntime writes the second as 0
    # on those rows, whatever its base value.
    partial = dict(n_targets=2, nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[2, 0, 0],
                   nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_values=[0.0, 0.0, 0.0], nodes_truenodeids=[1, 0, 0],
                   nodes_falsenodeids=[2, 0, 0], target_ids=[0, 0, 1], target_nodeids=[1, 2, 2], target_treeids=[0, 0, 0],
                   target_weights=[1.5, -2.0, 3.0], base_values=[0.5, 2.0])
    for agg in ["SUM", "MIN"]:
        m = single(ml_node("TreeEnsembleRegressor", ["X"], ["Y"], **partial, aggregate_function=agg), FL, [None, 10], [("Y", FL, [None, 2])])
        f.add(f"tree_regressor_unweighed_target_{agg.lower()}_diabetes", m, [{"X": Xd[:20]}],
              note=f"2 targets, a leaf weighing one: the other is 0 there, base value or not ({agg})")

    Xg, yg = d["digits"]
    rfg = RandomForestRegressor(n_estimators=8, max_depth=8, random_state=0).fit(Xg, yg)
    as_float = isolate(to_onnx(rfg, Xg[:1], target_opset=OPSET), "TreeEnsembleRegressor", outs=[(FL, [None, 1])]).SerializeToString()
    m = onnx.ModelProto.FromString(as_float)
    m.graph.input[0].type.tensor_type.elem_type = I64
    f.add("random_forest_regressor_int64_digits", m, [{"X": Xg[::11].astype(np.int64)}], atol=1e-4,
          expect=lambda feeds: reference(as_float, {"X": feeds["X"].astype(np.float32)}),
          note="int64 input (pixel intensities); onnxruntime has no int64 regressor kernel: expected is its answer on the same values as float")
    return gb, rf, rf2, rfg


def mixed_modes(f, d, rf):
    """One model with every v3 branch mode: thresholds rounded onto the integer pixel values
    of digits, so EQ and NEQ meet equal values."""
    from skl2onnx import to_onnx
    Xg, _ = d["digits"]
    names = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]

    def edit(n):
        modes = [m.decode() for m in attr(n, "nodes_modes")]
        branches = [i for i, m in enumerate(modes) if m != "LEAF"]
        for k, i in enumerate(branches):
            modes[i] = names[k % len(names)]
        set_attr(n, "nodes_modes", modes)
        set_attr(n, "nodes_values", [float(np.round(v)) for v in attr(n, "nodes_values")])
    m = isolate(to_onnx(rf, Xg[:1], target_opset=OPSET), "TreeEnsembleRegressor", outs=[(FL, [None, 1])], edit=edit)
    f.add("mixed_modes_regressor_digits", m, [{"X": Xg[:1]}, {"X": Xg[::3]}], atol=1e-4,
          note="every branch mode in one forest, on integer-valued features")


def classifiers(f, d, rng):
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from skl2onnx import to_onnx
    no_zipmap = lambda est: {id(est): {"zipmap": False}}  # noqa: E731
    Xb, yb = d["breast_cancer"]
    Xi, yi = d["iris"]
    Xw, yw = d["wine"]
    Xg, yg = d["digits"]
    gbb = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(Xb, yb)
    onx = to_onnx(gbb, Xb[:1], options=no_zipmap(gbb), target_opset=OPSET)
    f.add("gbdt_classifier_binary_breast_cancer", onx, [{"X": Xb[:1]}, {"X": Xb}],
          note="binary GradientBoostingClassifier: one class weighed, margins, LOGISTIC")
    bin_outs = [(I64, [None]), (FL, [None, 2])]
    for pt in ["NONE", "SOFTMAX", "SOFTMAX_ZERO"]:
        m = isolate(onx, "TreeEnsembleClassifier", outs=bin_outs, edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"gbdt_classifier_binary_{pt.lower()}_breast_cancer", m, [{"X": Xb[::5]}],
              note=f"binary, one class weighed, mixed-sign weights, post_transform {pt}: scores [-s, s]")
    for base in [[0.5], [0.25, 0.5]]:
        m = isolate(onx, "TreeEnsembleClassifier", outs=bin_outs, edit=lambda n, b=base: set_attr(n, "base_values", b))
        f.add(f"gbdt_classifier_binary_{len(base)}_base_values_breast_cancer", m, [{"X": Xb[::6]}],
              note=f"binary, one class weighed, {len(base)} base value(s)")
    names = np.array(["malignant", "benign"])
    gbs = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(Xb, names[yb])
    f.add("gbdt_classifier_binary_strings_breast_cancer", to_onnx(gbs, Xb[:1], options=no_zipmap(gbs), target_opset=OPSET),
          [{"X": Xb[::4]}], note="binary, string labels")

    rfb = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(Xb, yb)
    onx_rfb = to_onnx(rfb, Xb[:1], options=no_zipmap(rfb), target_opset=OPSET)
    f.add("random_forest_classifier_binary_breast_cancer", onx_rfb, [{"X": Xb[:1]}, {"X": Xb}],
          note="binary RandomForestClassifier: one class weighed with probabilities: label p > 0.5, scores [1 - p, p]")

    def both_classes(n):
        trees = len(set(attr(n, "class_treeids")))
        pairs = [(t, nid, w) for t, nid, w in zip(attr(n, "class_treeids"), attr(n, "class_nodeids"), attr(n, "class_weights"))]
        set_attr(n, "class_treeids", [t for t, _, _ in pairs for _ in range(2)])
        set_attr(n, "class_nodeids", [nid for _, nid, _ in pairs for _ in range(2)])
        set_attr(n, "class_ids", [k for _ in pairs for k in (0, 1)])
        set_attr(n, "class_weights", [v for _, _, w in pairs for v in (1 / trees - w, w)])
    m = isolate(onx_rfb, "TreeEnsembleClassifier", outs=bin_outs, edit=both_classes)
    f.add("random_forest_classifier_binary_both_classes_breast_cancer", m, [{"X": Xb[::3]}],
          note="two classes weighed: the positive label whenever its score is above 0 (onnxruntime's rule)")
    m = isolate(onx_rfb, "TreeEnsembleClassifier", outs=bin_outs, edit=lambda n: (both_classes(n), set_attr(n, "base_values", [0.1, -0.6])))
    f.add("random_forest_classifier_binary_both_classes_base_values_breast_cancer", m, [{"X": Xb[::3]}],
          note="two classes weighed, two base values: onnxruntime's scores [-(b1 + s0), b1 + s0]")
    m = isolate(onx_rfb, "TreeEnsembleClassifier", outs=bin_outs, edit=lambda n: set_attr(n, "class_ids", [1] * len(attr(n, "class_ids"))))
    f.add("random_forest_classifier_binary_second_class_breast_cancer", m, [{"X": Xb[::3]}],
          note="the second class weighed alone: scores [0, p] (class 0 never weighed)")
    m = isolate(onx_rfb, "TreeEnsembleClassifier", outs=bin_outs, edit=lambda n: set_attr(n, "base_values", [-0.2, 0.1]))
    f.add("random_forest_classifier_binary_base_values_breast_cancer", m, [{"X": Xb[::3]}],
          note="one class weighed, two base values")

    gbi = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0).fit(Xi, yi)
    f.add("gbdt_classifier_iris", to_onnx(gbi, Xi[:1], options=no_zipmap(gbi), target_opset=OPSET),
          [{"X": Xi[:1]}, {"X": Xi}], note="multiclass GradientBoostingClassifier: SOFTMAX")
    rfi = RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(Xi, yi)
    onx_rfi = to_onnx(rfi, Xi[:1], options=no_zipmap(rfi), target_opset=OPSET)
    outs3 = [(I64, [None]), (FL, [None, 3])]
    for pt in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
        m = isolate(onx_rfi, "TreeEnsembleClassifier", outs=outs3, edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"random_forest_classifier_{pt.lower()}_iris", m, [{"X": Xi[:1]}, {"X": Xi[::2]}],
              note=f"3 classes, post_transform {pt}")
    m = isolate(onx_rfi, "TreeEnsembleClassifier", outs=outs3, edit=lambda n: set_attr(n, "base_values", [0.3, 0.0, -0.2]))
    f.add("random_forest_classifier_base_values_iris", m, [{"X": Xi[::3]}], note="3 classes, base_values")
    m = with_ml_opset(isolate(onx_rfi, "TreeEnsembleClassifier", outs=outs3), 1)
    f.add("random_forest_classifier_ml_opset1_iris", m, [{"X": Xi[::5]}], note="TreeEnsembleClassifier of ai.onnx.ml 1")

    wine = np.array(["barolo", "grignolino", "barbera"])
    rfw = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(Xw, wine[yw])
    f.add("random_forest_classifier_strings_wine", to_onnx(rfw, Xw[:1], options=no_zipmap(rfw), target_opset=OPSET),
          [{"X": Xw[:1]}, {"X": Xw}], note="3 classes, string labels")
    f.add("random_forest_classifier_zipmap_wine", to_onnx(rfw, Xw[:1], target_opset=OPSET), [{"X": Xw[::7]}],
          note="string labels, with ZipMap")

    rfg = RandomForestClassifier(n_estimators=10, max_depth=12, random_state=0).fit(Xg, yg)
    onx_rfg = to_onnx(rfg, Xg[:1], options=no_zipmap(rfg), target_opset=OPSET)
    f.add("random_forest_classifier_digits", onx_rfg, [{"X": Xg[:1]}, {"X": Xg[::2]}], note="10 classes, 899 rows")
    m = isolate(onx_rfg, "TreeEnsembleClassifier", outs=[(I64, [None]), (FL, [None, 10])])
    m.graph.input[0].type.tensor_type.elem_type = I64
    f.add("random_forest_classifier_int64_digits", m, [{"X": Xg[::13].astype(np.int64)}], note="int64 input")
    m = isolate(onx_rfi, "TreeEnsembleClassifier", outs=outs3, edit=as_double)
    m.graph.input[0].type.tensor_type.elem_type = DB
    f.add("random_forest_classifier_double_iris", m, [{"X": Xi[::4].astype(np.float64)}],
          note="double input, *_as_tensor attributes")
    nan = holes(Xw, rng)
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(nan, yw)
    f.add("hist_gbdt_classifier_nan_wine", to_onnx(hgb, nan[:1], options=no_zipmap(hgb), target_opset=OPSET),
          [{"X": nan[:1]}, {"X": nan}], note="HistGradientBoostingClassifier trained with NaN, 3 classes")
    return onx_rfi


def lightgbm(f, d, rng):
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType
    Xb, yb = d["breast_cancer"]
    Xw, yw = d["wine"]
    Xd, yd = d["diabetes"]
    for name, X, y, est in [("binary_breast_cancer", Xb, yb, lgb.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1)),
                            ("multiclass_wine", Xw, yw, lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1)),
                            ("regressor_diabetes", Xd, yd, lgb.LGBMRegressor(n_estimators=40, num_leaves=15, verbose=-1))]:
        nan = holes(X, rng, 0.15)
        est.fit(nan, y)
        onx = convert_lightgbm(est, initial_types=[("X", FloatTensorType([None, X.shape[1]]))], target_opset=15, zipmap=False)
        onx.graph.name = f"lgbm_{name}"  # onnxmltools names graphs with a fresh uuid
        f.add(f"lgbm_{name}_nan", onx, [{"X": nan[:1]}, {"X": nan}], rtol=1e-4, atol=1e-3 if "regressor" in name else 1e-5,
              note="LightGBM via onnxmltools, trained and fed with NaN: BRANCH_LEQ, missing values go left")


def v5(f, d, gb, rf2, rfg):
    from skl2onnx import to_onnx
    Xd, _ = d["diabetes"]
    Xg, _ = d["digits"]
    node = tree_node(to_onnx(gb, Xd[:1], target_opset=OPSET))
    f.add("tree_ensemble_v5_gbdt_diabetes", v5_model(to_v5(node, 1), FL, 10, 1), [{"X": Xd[:1]}, {"X": Xd}], atol=1e-3,
          note="TreeEnsemble (ai.onnx.ml 5) from a GBDT's trees, SUM")
    node2 = tree_node(to_onnx(rf2, Xd[:1], target_opset=OPSET))
    for agg, name in [(0, "average"), (2, "min"), (3, "max")]:
        f.add(f"tree_ensemble_v5_{name}_diabetes", v5_model(to_v5(node2, 2, aggregate=agg), FL, 10, 2), [{"X": Xd[::5]}],
              atol=1e-4, note=f"TreeEnsemble, 2 targets, aggregate_function {agg} ({name.upper()})")
    for pt, name in [(3, "softmax_zero"), (4, "probit")]:
        scale = 0.1 if pt == 4 else 1.0
        m = v5_model(to_v5(node2, 2, post_transform=pt), FL, 10, 2)
        f.add(f"tree_ensemble_v5_{name}_diabetes", m, [{"X": Xd[::5] * scale}], atol=1e-4,
              note=f"TreeEnsemble, post_transform {pt} ({name.upper()})")
    none = v5_model(to_v5(node2, 2), FL, 10, 2)
    for pt, name, fn in [(1, "softmax", softmax), (2, "logistic", logistic)]:
        m = v5_model(to_v5(node2, 2, post_transform=pt), FL, 10, 2)
        f.add(f"tree_ensemble_v5_{name}_diabetes", m, [{"X": Xd[::5]}], atol=1e-5, expect=transformed(none, fn),
              note=f"TreeEnsemble, post_transform {pt} is {name.upper()} in the specification (onnxruntime swaps 1 and 2)")
    m = v5_model(to_v5(node2, 2, x_elem=DB), DB, 10, 2)
    f.add("tree_ensemble_v5_double_diabetes", m, [{"X": Xd[::8].astype(np.float64)}], rtol=1e-7, atol=1e-7,
          note="TreeEnsemble in double: splits, weights and output")

    # One ordinary tree, then two one-leaf trees (a root whose branches reach the same leaf),
    # read as the leaf at the root's position (1 and 2), as onnxruntime and the ONNX reference read them.
    leafy = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain=ML, name="treeensemble_0", n_targets=1, aggregate_function=1, post_transform=0,
        tree_roots=[0, 1, 2], nodes_featureids=[3, 0, 0], nodes_modes=numpy_helper.from_array(np.array([0, 0, 0], np.uint8)),
        nodes_splits=numpy_helper.from_array(np.array([0.0, 0.0, 0.0], np.float32)), nodes_truenodeids=[0, 0, 3],
        nodes_trueleafs=[1, 1, 1], nodes_falsenodeids=[1, 0, 3], nodes_falseleafs=[1, 1, 1], leaf_targetids=[0, 0, 0, 0],
        leaf_weights=numpy_helper.from_array(np.array([1.0, 10.0, 100.0, 1000.0], np.float32)))
    f.add("tree_ensemble_v5_one_leaf_trees_diabetes", v5_model(leafy, FL, 10, 1), [{"X": Xd[:12]}],
          note="TreeEnsemble with one-leaf trees: the leaf at the root's own position")

    nodeg = tree_node(to_onnx(rfg, Xg[:1], target_opset=OPSET))
    member = lambda feature, t: [float(v) for v in range(17) if v <= t] if feature % 2 == 0 else None  # noqa: E731
    m = v5_model(to_v5(nodeg, 1, member=member), FL, 64, 1)
    odd = Xg[::9].copy()
    odd[0, :] = np.nan
    odd[1, ::3] = 2.5
    f.add("tree_ensemble_v5_member_digits", m, [{"X": Xg[:1]}, {"X": odd}], atol=1e-4,
          note="BRANCH_MEMBER sets standing for x <= t on integer pixels, NaN and non-integer rows")


def bad_models(f):
    """Malformed trees: each must be refused at load, naming operator and attribute."""
    x4 = [vi("X", FL, [None, 4])]
    reg = dict(n_targets=1, nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
               nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_values=[0.5, 0.0, 0.0], nodes_truenodeids=[1, 0, 0],
               nodes_falsenodeids=[2, 0, 0], target_ids=[0, 0], target_nodeids=[1, 2], target_treeids=[0, 0],
               target_weights=[1.0, 2.0])
    cls = {k.replace("target_", "class_"): v for k, v in reg.items() if k != "n_targets"}
    cls["classlabels_int64s"] = [0, 1]

    def one(name, op, attrs, contains, outs=(("Y", FL, [None, 1]),)):
        m = graph([ml_node(op, ["X"], [o[0] for o in outs], **attrs)], x4, [vi(*o) for o in outs], check=False)
        f.bad_model(name, m, contains)

    R = "TreeEnsembleRegressor"
    one("tree_child_out_of_range", R, {**reg, "nodes_falsenodeids": [7, 0, 0]}, [R, "nodes_falsenodeids", "node 7"])
    one("tree_cycle", R, {**reg, "nodes_modes": ["BRANCH_LEQ", "BRANCH_LEQ", "LEAF"], "nodes_truenodeids": [1, 0, 0],
                          "nodes_falsenodeids": [2, 2, 0], "target_ids": [0], "target_nodeids": [2], "target_treeids": [0],
                          "target_weights": [1.0]}, [R, "nodes_truenodeids", "cycles"])
    one("tree_self_loop", R, {**reg, "nodes_truenodeids": [0, 0, 0]}, [R, "nodes_truenodeids", "itself"])
    one("tree_lengths", R, {**reg, "nodes_values": [0.5, 0.0]}, [R, "nodes_values", "2 entries"])
    one("tree_weight_lengths", R, {**reg, "target_weights": [1.0]}, [R, "target_weights"])
    one("tree_weight_nowhere", R, {**reg, "target_nodeids": [1, 9]}, [R, "target_nodeids", "node 9 of tree 0"])
    one("tree_mode_unknown", R, {**reg, "nodes_modes": ["BRANCH_XX", "LEAF", "LEAF"]}, [R, "nodes_modes", "BRANCH_XX"])
    one("tree_duplicate_node", R, {**reg, "nodes_nodeids": [0, 1, 1]}, [R, "nodes_nodeids", "twice"])
    one("tree_target_out_of_range", R, {**reg, "target_ids": [0, 3]}, [R, "target_ids", "3"])
    one("tree_n_targets", R, {**reg, "n_targets": 0}, [R, "n_targets"])
    one("tree_aggregate_unknown", R, {**reg, "aggregate_function": "MEDIAN"}, [R, "aggregate_function", "MEDIAN"])
    one("tree_base_values_length", R, {**reg, "base_values": [1.0, 2.0]}, [R, "base_values", "2 values"])
    one("tree_negative_feature", R, {**reg, "nodes_featureids": [-1, 0, 0]}, [R, "nodes_featureids"])
    one("tree_feature_beyond_input", R, {**reg, "nodes_featureids": [6, 0, 0]}, [R, "feature 6", "4 features"])
    one("tree_values_twice", R, {**reg, "nodes_values_as_tensor": numpy_helper.from_array(np.zeros(3))},
        [R, "nodes_values_as_tensor", "only one"])
    C = "TreeEnsembleClassifier"
    couts = (("label", I64, [None]), ("scores", FL, [None, 2]))
    one("tree_classifier_class_out_of_range", C, {**cls, "class_ids": [0, 2]}, [C, "class_ids", "2"], outs=couts)
    one("tree_classifier_one_label", C, {**cls, "classlabels_int64s": [0]}, [C, "classlabels_int64s", "two classes"], outs=couts)
    one("tree_classifier_no_labels", C, {k: v for k, v in cls.items() if k != "classlabels_int64s"}, [C, "classlabels_int64s"], outs=couts)
    one("tree_classifier_base_values", C, {**cls, "classlabels_int64s": [0, 1, 2], "base_values": [0.0, 1.0]},
        [C, "base_values"], outs=(("label", I64, [None]), ("scores", FL, [None, 3])))

    T = "TreeEnsemble"
    v5 = dict(n_targets=1, tree_roots=[0], nodes_featureids=[0], nodes_modes=numpy_helper.from_array(np.array([0], np.uint8)),
              nodes_splits=numpy_helper.from_array(np.array([0.5], np.float32)), nodes_truenodeids=[0], nodes_trueleafs=[1],
              nodes_falsenodeids=[1], nodes_falseleafs=[1], leaf_targetids=[0, 0],
              leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0], np.float32)))

    def five(name, attrs, contains):
        m = helper.make_model(helper.make_graph([ml_node(T, ["X"], ["Y"], **attrs)], "v5", x4, [vi("Y", FL, [None, 1])]),
                              opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(ML, 5)])
        m.ir_version = 10
        f.bad_model(name, m, contains)

    five("tree_v5_leaf_out_of_range", {**v5, "nodes_falsenodeids": [5]}, [T, "nodes_falsenodeids", "leaf 5"])
    five("tree_v5_node_out_of_range", {**v5, "nodes_trueleafs": [0], "nodes_truenodeids": [3]}, [T, "nodes_truenodeids", "node 3"])
    five("tree_v5_cycle", {**v5, "nodes_trueleafs": [0], "nodes_truenodeids": [0]}, [T, "nodes_truenodeids", "itself"])
    five("tree_v5_root", {**v5, "tree_roots": [4]}, [T, "tree_roots", "node 4"])
    five("tree_v5_mode", {**v5, "nodes_modes": numpy_helper.from_array(np.array([9], np.uint8))}, [T, "nodes_modes", "mode 9"])
    five("tree_v5_members", {**v5, "nodes_modes": numpy_helper.from_array(np.array([6], np.uint8))}, [T, "membership_values", "BRANCH_MEMBER"])
    five("tree_v5_lengths", {**v5, "nodes_falseleafs": [1, 1]}, [T, "nodes_falseleafs", "2 entries"])
    five("tree_v5_types", {**v5, "leaf_weights": numpy_helper.from_array(np.array([1.0, 2.0], np.float64))}, [T, "leaf_weights", "share one type"])
    five("tree_v5_target", {**v5, "leaf_targetids": [0, 1]}, [T, "leaf_targetids", "target 1"])
    five("tree_v5_post_transform", {**v5, "post_transform": 7}, [T, "post_transform", "got 7"])
    chain = dict(n_targets=1, tree_roots=[0] * 4, nodes_featureids=[0, 1, 2],
                 nodes_modes=numpy_helper.from_array(np.array([0, 0, 0], np.uint8)),
                 nodes_splits=numpy_helper.from_array(np.array([0.5, 0.5, 0.5], np.float32)), nodes_truenodeids=[1, 2, 0],
                 nodes_trueleafs=[0, 0, 1], nodes_falsenodeids=[1, 2, 1], nodes_falseleafs=[0, 0, 1], leaf_targetids=[0, 0],
                 leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0], np.float32)))
    five("tree_v5_shared_roots", chain, [T, "tree_roots", "share nodes", "12 steps through 5 nodes"])


def bad_inputs(f, d):
    Xi, yi = d["iris"]
    reg = dict(n_targets=1, nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[3, 0, 0],
               nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_values=[0.5, 0.0, 0.0], nodes_truenodeids=[1, 0, 0],
               nodes_falsenodeids=[2, 0, 0], target_ids=[0, 0], target_nodeids=[1, 2], target_treeids=[0, 0],
               target_weights=[1.0, 2.0])
    m = single(ml_node("TreeEnsembleRegressor", ["X"], ["Y"], **reg), FL, [None, None], [("Y", FL, [None, 1])])
    f.bad_input("tree_wrong_feature_count", m, {"X": Xi[:2, :3]}, "E_INPUT_SHAPE",
                ["TreeEnsembleRegressor", "at least 4 features", "got 3"])
    m = single(ml_node("TreeEnsembleRegressor", ["X"], ["Y"], **{**reg, "n_targets": 300_000_000}), FL, [None, 4],
               [("Y", FL, [None, 300_000_000])])
    f.bad_input("tree_huge_n_targets", m, {"X": Xi[:1]}, "E_RESOURCE_LIMIT", ["tensor 'Y'", "1.1 GiB", "maxTensorBytes"], ort_must_fail=False)


def main():
    f = Fixtures.fresh("trees")
    rng = np.random.default_rng(20261201)
    d = data()
    gb, rf, rf2, rfg = regressors(f, d, rng)
    mixed_modes(f, d, rfg)
    classifiers(f, d, rng)
    lightgbm(f, d, rng)
    v5(f, d, gb, rf2, rfg)
    bad_models(f)
    bad_inputs(f, d)
    f.finish()
    print(f"{f.count} cases, {len(f.bad_models)} malformed models, {len(f.bad_inputs)} refused inputs in {f.out}")


if __name__ == "__main__":
    main()
