#!/usr/bin/env python3
"""Build the fixtures of NaN and infinities through the operators edgeinfer computes itself
(src/ops/lean): a ReLU network as mlp_tabular is (NaN, Inf, -Inf, mixed rows), ReLU and
Max and Min of a fed tensor with a constant and with a broadcast row, comparisons and Where
with NaN, a BatchNormalization
and ReLU that no Conv precedes, reductions (ReduceMax, ReduceMin, ArgMax, ArgMin, over each
axis, ties first and last), max pooling with padding and strides, TopK with ties and
infinities, and Sigmoid and Softmax at the infinities. The expected outputs are onnxruntime's
(CPU, from Python), so these hold the engine to onnxruntime whichever plan runs, except in
two places where onnxruntime's CPU answer with NaN depends on which SIMD lane a NaN falls in
and onnxruntime-web (the anchor in the browser) answers otherwise; there the expected output
is onnxruntime-web's rule, computed here and said in the case's note: a NaN in a max-pooling
window gives NaN (wasm's f32x4.max), and a reduction folds from the first element with a
strict comparison (a NaN first gives NaN, a NaN later is passed over), as onnxruntime-web
does over every axis and the CPU build over the first.

Writes into OUT_DIR (default tests/fixtures/nan), in the format of make_ml_fixtures.py.

Usage: .cache/venv/bin/python scripts/make_nan_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
from onnx import TensorProto as T, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import Fixtures, graph, reference, vi  # noqa: E402

RNG = np.random.default_rng(5)
NAN, INF = np.float32(np.nan), np.float32(np.inf)


def floats(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def with_nan(shape, every=5):
    """Normal values with NaN, Inf and -Inf at regular places."""
    x = floats(*shape).ravel()
    x[1::every], x[2::every * 3], x[3::every * 4] = NAN, INF, -INF
    return x.reshape(shape)


def fold_first(x, axis, largest):
    """A reduction as onnxruntime-web computes it: from the first element, keep a strictly better one."""
    x = np.moveaxis(x, axis, 0)
    acc = x[0].copy()
    for v in x[1:]:
        better = v > acc if largest else v < acc
        acc[better] = v[better]
    return acc


def pool_nan(x, model, k, s, p):
    """Max pooling where any NaN in a window gives NaN: onnxruntime's answer where no window
    holds a NaN (its output sizes and padding), NaN where one does."""
    y = reference(model, {"x": x})["y"]
    nan = np.pad(np.isnan(x), [(0, 0), (0, 0), (p, p + s), (p, p + s)])
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            hit = nan[:, :, i * s:i * s + k, j * s:j * s + k].any(axis=(2, 3))
            y[:, :, i, j][hit] = np.nan
    return y


def one_op(op, inputs, outputs, inits=(), **attrs):
    names = [i.name for i in inputs] + [t.name for t in inits]
    return graph([helper.make_node(op, names, [o.name for o in outputs], **attrs)], inputs, outputs, inits)


def mlp():
    """32 -> 16 -> 8 -> 1 with ReLU, Sigmoid at the end: mlp_tabular's shape, smaller."""
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate([(32, 16), (16, 8), (8, 1)]):
        inits += [numpy_helper.from_array((floats(a, b) / np.sqrt(a)).astype(np.float32), f"W{i}"), numpy_helper.from_array(floats(b) * 0.1, f"B{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"W{i}"], [f"m{i}"]), helper.make_node("Add", [f"m{i}", f"B{i}"], [f"a{i}"])]
        prev = f"a{i}"
        if i < 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Sigmoid", [prev], ["y"]))
    return graph(nodes, [vi("x", T.FLOAT, ["batch", 32])], [vi("y", T.FLOAT, ["batch", 1])], inits)


def main():
    f = Fixtures.fresh("nan")
    full = lambda v, rows=1: np.full((rows, 32), v, np.float32)  # noqa: E731
    mixed = floats(4, 32)
    mixed[1, 7], mixed[2, :] = NAN, INF
    f.add("mlp_relu", mlp(), [{"x": full(NAN)}, {"x": full(INF)}, {"x": full(-INF)}, {"x": mixed}, {"x": floats(3, 32)}],
          note="mlp_tabular answered 0.532 for NaN features once its batch-1 plan was specialised")

    x = vi("x", T.FLOAT, ["n", 6])
    f.add("relu", one_op("Relu", [x], [vi("y", T.FLOAT, ["n", 6])]), [{"x": with_nan((3, 6))}])
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "zero")
    for op in ["Max", "Min"]:
        f.add(f"{op.lower()}_constant", one_op(op, [x], [vi("y", T.FLOAT, ["n", 6])], [zero]), [{"x": with_nan((3, 6))}])
        f.add(f"{op.lower()}_row", one_op(op, [x, vi("r", T.FLOAT, [6])], [vi("y", T.FLOAT, ["n", 6])]),
              [{"x": with_nan((4, 6)), "r": np.array([0, NAN, 1, -INF, INF, 0.5], np.float32)}])
    f.add("clip", one_op("Clip", [x, vi("lo", T.FLOAT, []), vi("hi", T.FLOAT, [])], [vi("y", T.FLOAT, ["n", 6])]),
          [{"x": with_nan((3, 6)), "lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)}])

    # Comparisons with NaN are false (but for Not-Equal-style compositions), and Where
    # selects with the condition broadcast over rows.
    b = vi("b", T.BOOL, ["n", 6])
    row6 = vi("r", T.FLOAT, [6])
    rows = {"x": with_nan((4, 6)), "r": np.array([0, NAN, 1, -INF, INF, 0.5], np.float32)}
    for op in ["Less", "Greater", "Equal", "LessOrEqual", "GreaterOrEqual"]:
        f.add(f"compare_{op.lower()}", one_op(op, [x, row6], [b]), [rows])
    minus_inf = numpy_helper.from_array(np.array(-np.inf, np.float32), "minus_inf")
    where = graph([helper.make_node("Greater", ["x", "r"], ["c"]), helper.make_node("Where", ["c", "x", "minus_inf"], ["y"])],
                  [x, row6], [vi("y", T.FLOAT, ["n", 6])], [minus_inf])
    f.add("where_masked", where, [rows])

    # BatchNormalization then ReLU with no Conv to fold into (DenseNet's pre-activations).
    c = 8
    params = [numpy_helper.from_array(v, n) for v, n in [(1 + 0.2 * floats(c), "g"), (0.1 * floats(c), "b"),
                                                         (0.1 * floats(c), "m"), (1 + np.abs(floats(c)), "v")]]
    bn = graph([helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["n"]), helper.make_node("Relu", ["n"], ["y"])],
               [vi("x", T.FLOAT, ["batch", c, 5, 7])], [vi("y", T.FLOAT, ["batch", c, 5, 7])], params)
    f.add("batchnorm_relu", bn, [{"x": with_nan((1, c, 5, 7), 7)}, {"x": with_nan((2, c, 5, 7), 3)}])

    m = vi("x", T.FLOAT, [5, 7])
    # NaN first in some rows and columns, later in others; ties.
    r = floats(5, 7)
    r[0, 0], r[1, 3], r[3, 0], r[4, 6], r[2, 2:5] = NAN, NAN, NAN, NAN, 2.5
    r[:, 5] = [1, 3, 3, -1, 3]
    for op in ["ReduceMax", "ReduceMin"]:
        for axis in [0, 1]:
            f.add(f"{op.lower()}_axis{axis}", one_op(op, [m], [vi("y", T.FLOAT, ["k"])], axes=[axis], keepdims=0), [{"x": r}],
                  expect=lambda feeds, op=op, axis=axis: {"y": fold_first(feeds["x"], axis, op == "ReduceMax")},
                  note="onnxruntime-web's rule: a fold from the first element (see the script)")
    for op in ["ArgMax", "ArgMin"]:
        for axis in [0, 1]:
            for last in [0, 1]:
                f.add(f"{op.lower()}_axis{axis}_last{last}",
                      one_op(op, [m], [vi("y", T.INT64, ["a", "b"])], axis=axis, keepdims=1, select_last_index=last), [{"x": r}])

    for name, kernel, strides, pads, ceil in [("maxpool_3x3_s2_ceil", [3, 3], [2, 2], [0, 0, 0, 0], 1),
                                              ("maxpool_3x3_s1_pad1", [3, 3], [1, 1], [1, 1, 1, 1], 0),
                                              ("maxpool_2x2", [2, 2], [2, 2], [0, 0, 0, 0], 0)]:
        pool = one_op("MaxPool", [vi("x", T.FLOAT, ["batch", 3, 9, 11])], [vi("y", T.FLOAT, ["batch", 3, "h", "w"])],
                      kernel_shape=kernel, strides=strides, pads=pads, ceil_mode=ceil)
        f.add(name, pool, [{"x": with_nan((2, 3, 9, 11), 4)}],
              expect=lambda feeds, b=pool.SerializeToString(), k=kernel[0], s=strides[0], p=pads[0]: {"y": pool_nan(feeds["x"], b, k, s, p)},
              note="onnxruntime-web's rule: NaN in a window gives NaN (see the script)")

    k = numpy_helper.from_array(np.array([4], np.int64), "k")
    row = np.array([[3, 1, INF, 3, -INF, 0.5, 3, 2, -1, 0]], np.float32)
    for largest in [1, 0]:
        topk = one_op("TopK", [vi("x", T.FLOAT, ["n", 10])], [vi("v", T.FLOAT, ["n", 4]), vi("i", T.INT64, ["n", 4])], [k], axis=1, largest=largest)
        f.add(f"topk_largest{largest}", topk, [{"x": np.concatenate([row, floats(2, 10)])}])
    topk0 = one_op("TopK", [vi("x", T.FLOAT, [10, "n"])], [vi("v", T.FLOAT, [4, "n"]), vi("i", T.INT64, [4, "n"])], [k], axis=0)
    f.add("topk_axis0", topk0, [{"x": np.concatenate([row.T, floats(10, 2)], axis=1)}])

    edges = np.array([[NAN, INF, -INF, 0, 1, -1]], np.float32)
    e = vi("x", T.FLOAT, ["n", 6])
    f.add("sigmoid", one_op("Sigmoid", [e], [vi("y", T.FLOAT, ["n", 6])]), [{"x": edges}])
    f.add("softmax", one_op("Softmax", [e], [vi("y", T.FLOAT, ["n", 6])], axis=1),
          [{"x": np.concatenate([edges, [[1, INF, 0, 0, 2, 3]], [[1, -INF, 0, 0, 2, 3]]]).astype(np.float32)}])
    f.finish()
    print(f"wrote {f.count} cases to {os.path.normpath(f.out)}")


if __name__ == "__main__":
    main()
