#!/usr/bin/env python3
"""Build the fixtures of the layers edgeinfer fuses into operators of its own (src/ops/lean):
dense layers (MatMul or Gemm by constant weights, transposed or not, on 2-D and 3-D inputs,
a weight vector, then a bias, a ReLU or a Clip, or a result read twice, which must stay as
it is) and depthwise convolutions (3x3 and 5x5, strides 1 and 2, padded or not, with a bias
or none, then a ReLU or ReLU6), a grouped convolution that is not depthwise, other
convolutions (3x3, 7x7 of stride 2, 1x1 of stride 1 and 2, with a bias and a ReLU), and
products of two inputs (attention's scores and its weighted sum, an outer product). Every expected output is
onnxruntime's, at batch 1 and at batch 3.

Writes into OUT_DIR (default tests/fixtures/layers), in the format of make_ml_fixtures.py.

Usage: .cache/venv/bin/python scripts/make_layer_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
from onnx import TensorProto as T, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import Fixtures, graph, vi  # noqa: E402

RNG = np.random.default_rng(17)


def floats(*shape, scale=1.0):
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def dense_cases(f):
    x2, x3 = vi("x", T.FLOAT, ["batch", 24]), vi("x", T.FLOAT, ["batch", 5, 24])
    w, b = const("w", floats(24, 40, scale=0.2)), const("b", floats(40, scale=0.1))
    y2, y3 = vi("y", T.FLOAT, ["batch", 40]), vi("y", T.FLOAT, ["batch", 5, 40])
    relu = helper.make_node("Relu", ["a"], ["y"])
    clip = helper.make_node("Clip", ["a", "lo", "hi"], ["y"])
    mm = lambda out="m": helper.make_node("MatMul", ["x", "w"], [out])  # noqa: E731
    add = helper.make_node("Add", ["m", "b"], ["a"])
    batches = lambda shape: [{"x": floats(n, *shape)} for n in (1, 3)]  # noqa: E731
    f.add("dense_relu", graph([mm(), add, relu], [x2], [y2], [w, b]), batches([24]))
    f.add("dense_relu6", graph([mm(), add, clip], [x2], [y2], [w, b, const("lo", np.float32(0)), const("hi", np.float32(6))]),
          [{"x": floats(n, 24, scale=8.0)} for n in (1, 3)])
    f.add("dense_3d", graph([mm(), add, relu], [x3], [y3], [w, b]), batches([5, 24]))
    wt = const("wt", floats(40, 24, scale=0.2))
    f.add("gemm_transposed", graph([helper.make_node("Gemm", ["x", "wt", "b"], ["y"], transB=1)], [x2], [y2], [wt, b]), batches([24]))
    f.add("matmul_vector", graph([helper.make_node("MatMul", ["x", "v"], ["y"])], [x2], [vi("y", T.FLOAT, ["batch"])],
                                 [const("v", floats(24))]), batches([24]))
    # The product is read twice: its bias and ReLU must not be taken into it.
    twice = graph([mm(), add, relu, helper.make_node("Sigmoid", ["m"], ["s"])], [x2], [y2, vi("s", T.FLOAT, ["batch", 40])], [w, b])
    f.add("dense_read_twice", twice, batches([24]))


def depthwise_cases(f):
    c = 6
    for name, k, stride, pad, bias, act in [("3x3", 3, 1, 1, True, "Relu"), ("3x3_s2", 3, 2, 1, True, None),
                                            ("5x5_relu6", 5, 1, 2, False, "Clip"), ("3x3_s2_valid", 3, 2, 0, True, "Relu")]:
        inits = [const("w", floats(c, 1, k, k, scale=0.3))]
        inputs = ["x", "w"]
        if bias:
            inits.append(const("b", floats(c, scale=0.2)))
            inputs.append("b")
        conv = helper.make_node("Conv", inputs, ["a" if act else "y"], group=c, kernel_shape=[k, k], strides=[stride, stride],
                                pads=[pad] * 4)
        nodes = [conv]
        if act == "Relu":
            nodes.append(helper.make_node("Relu", ["a"], ["y"]))
        elif act == "Clip":
            inits += [const("lo", np.float32(0)), const("hi", np.float32(6))]
            nodes.append(helper.make_node("Clip", ["a", "lo", "hi"], ["y"]))
        g = graph(nodes, [vi("x", T.FLOAT, ["batch", c, 13, 11])], [vi("y", T.FLOAT, ["batch", c, "h", "w"])], inits)
        f.add(f"depthwise_{name}", g, [{"x": floats(n, c, 13, 11, scale=4.0)} for n in (1, 3)])
    grouped = graph([helper.make_node("Conv", ["x", "w"], ["y"], group=3, kernel_shape=[3, 3], pads=[1] * 4)],
                    [vi("x", T.FLOAT, ["batch", 6, 9, 9])], [vi("y", T.FLOAT, ["batch", 6, 9, 9])], [const("w", floats(6, 2, 3, 3))])
    f.add("grouped_conv", grouped, [{"x": floats(n, 6, 9, 9)} for n in (1, 3)])


def conv_cases(f):
    for name, cin, cout, k, stride, pad in [("3x3", 5, 18, 3, 1, 1), ("7x7_s2", 3, 8, 7, 2, 3), ("1x1", 20, 7, 1, 1, 0),
                                            ("1x1_s2", 6, 9, 1, 2, 0)]:
        inits = [const("w", floats(cout, cin, k, k, scale=0.3)), const("b", floats(cout, scale=0.2))]
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["a"], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4),
                 helper.make_node("Relu", ["a"], ["y"])]
        g = graph(nodes, [vi("x", T.FLOAT, ["batch", cin, 17, 15])], [vi("y", T.FLOAT, ["batch", cout, "h", "w"])], inits)
        f.add(f"conv_{name}", g, [{"x": floats(n, cin, 17, 15)} for n in (1, 3)])


def product_cases(f):
    # Scores of queries by keys, then the scores' sum of values: [batch, heads, tokens, width].
    q, kk, v = (vi(n, T.FLOAT, ["batch", 2, 9, 5]) for n in "qkv")
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]), helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node("MatMul", ["s", "v"], ["y"])]
    g = graph(nodes, [q, kk, v], [vi("y", T.FLOAT, ["batch", 2, 9, 5])], [])
    f.add("attention_products", g, [{n: floats(b, 2, 9, 5) for n in "qkv"} for b in (1, 3)])


def outer_cases(f):
    # An outer product and two functions of it, all three outputs: [n, n] each, so that a
    # large n fills the instance's memory (tests/js/memory.test.mjs).
    a, b = vi("a", T.FLOAT, ["n", 1]), vi("b", T.FLOAT, [1, "n"])
    nodes = [helper.make_node("MatMul", ["a", "b"], ["p"]), helper.make_node("Sigmoid", ["p"], ["q"]),
             helper.make_node("Tanh", ["p"], ["r"])]
    g = graph(nodes, [a, b], [vi(n, T.FLOAT, ["n", "n"]) for n in "pqr"], [])
    f.add("outer_products", g, [{"a": floats(n, 1), "b": floats(1, n)} for n in (3, 5)])


def main():
    f = Fixtures.fresh("layers")
    dense_cases(f)
    depthwise_cases(f)
    conv_cases(f)
    product_cases(f)
    outer_cases(f)
    f.finish()
    print(f"wrote {f.count} cases to {os.path.normpath(f.out)}")


if __name__ == "__main__":
    main()
