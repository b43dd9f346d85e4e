#!/usr/bin/env python3
"""Build the fixtures of BatchNormalization after Conv, which the loader folds into the Conv's
weights and bias (src/rewrite.rs): with and without a Conv bias, a non-default epsilon,
strides, groups, one and two spatial axes, weights in float_data rather than raw_data; and
the graphs it must leave alone (a Conv output read twice, weights shared by two Convs).
Every case is compared with onnxruntime, which runs the BatchNormalization as written.

Writes into OUT_DIR (default tests/fixtures/folds), in the format of make_ml_fixtures.py.

Usage: /work/main/.cache/venv/bin/python scripts/make_fold_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import Fixtures, vi  # noqa: E402

RNG = np.random.default_rng(11)


def floats(*shape, scale=1.0, offset=0.0):
    return (offset + scale * RNG.standard_normal(shape)).astype(np.float32)


def batch_norm(prefix, channels, x, y, epsilon=None):
    """A BatchNormalization node and its four parameters."""
    params = [numpy_helper.from_array(floats(channels, scale=0.3, offset=1.0), f"{prefix}_gamma"),
              numpy_helper.from_array(floats(channels, scale=0.2), f"{prefix}_beta"),
              numpy_helper.from_array(floats(channels, scale=0.5), f"{prefix}_mean"),
              numpy_helper.from_array(np.abs(floats(channels, scale=0.5, offset=1.0)) + 0.05, f"{prefix}_var")]
    attrs = {} if epsilon is None else {"epsilon": epsilon}
    node = helper.make_node("BatchNormalization", [x] + [p.name for p in params], [y], **attrs)
    return node, params


def out(name, *shape):
    return vi(name, T.FLOAT, ["batch", *shape])


def model(name, nodes, x_shape, outputs, inits):
    g = helper.make_graph(nodes, name, [vi("x", T.FLOAT, x_shape)], outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def conv_bn(name, x_shape, y_shape, weights, bias=True, epsilon=None, as_float_data=False, **conv_attrs):
    """x -> Conv -> BatchNormalization -> Relu."""
    channels = weights.shape[0]
    w = numpy_helper.from_array(weights, "w")
    if as_float_data:
        w = helper.make_tensor("w", T.FLOAT, weights.shape, weights.flatten().tolist())
    inits = [w]
    conv_inputs = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(floats(channels, scale=0.1), "b"))
        conv_inputs.append("b")
    bn, params = batch_norm("bn", channels, "c", "n", epsilon)
    nodes = [helper.make_node("Conv", conv_inputs, ["c"], **conv_attrs), bn, helper.make_node("Relu", ["n"], ["y"])]
    return model(name, nodes, x_shape, [out("y", *y_shape)], inits + params)


def main():
    f = Fixtures.fresh("folds")
    x2 = lambda n, c=3, h=9, w=9: floats(n, c, h, w)  # noqa: E731

    f.add("conv_bn", conv_bn("conv_bn", ["batch", 3, 9, 9], [8, 9, 9], floats(8, 3, 3, 3, scale=0.3), pads=[1, 1, 1, 1]),
          [{"x": x2(1)}, {"x": x2(3)}], note="Conv with bias, then BatchNormalization")
    f.add("conv_no_bias_bn", conv_bn("conv_no_bias_bn", ["batch", 3, 9, 9], [6, 4, 4], floats(6, 3, 3, 3, scale=0.3), bias=False,
                                     epsilon=1e-3, strides=[2, 2]),
          [{"x": x2(2)}], note="Conv without bias, strides 2, epsilon 1e-3")
    f.add("depthwise_bn", conv_bn("depthwise_bn", ["batch", 4, 9, 9], [4, 9, 9], floats(4, 1, 3, 3, scale=0.3), group=4,
                                  pads=[1, 1, 1, 1]),
          [{"x": x2(2, c=4)}], note="depthwise Conv (group 4)")
    f.add("conv1d_bn", conv_bn("conv1d_bn", ["batch", 2, 10], [5, 8], floats(5, 2, 3, scale=0.3), as_float_data=True),
          [{"x": floats(2, 2, 10)}], note="one spatial axis; weights in float_data")

    # The Conv's output is also a graph output: folding would change it, so it stays.
    bn, params = batch_norm("bn", 8, "c", "n")
    shared_out = model("conv_output_read_twice",
                       [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), bn],
                       ["batch", 3, 9, 9], [out("c", 8, 9, 9), out("n", 8, 9, 9)],
                       [numpy_helper.from_array(floats(8, 3, 3, 3, scale=0.3), "w"),
                        numpy_helper.from_array(floats(8, scale=0.1), "b")] + params)
    f.add("conv_output_read_twice", shared_out, [{"x": x2(2)}], note="not folded: the Conv output is read twice")

    # Two Convs share their weights, each followed by its own BatchNormalization.
    bn1, p1 = batch_norm("bn1", 8, "c1", "n1")
    bn2, p2 = batch_norm("bn2", 8, "c2", "n2")
    shared_w = model("shared_weights",
                     [helper.make_node("Conv", ["x", "w"], ["c1"], pads=[1, 1, 1, 1]), bn1,
                      helper.make_node("Conv", ["x", "w"], ["c2"]), bn2],
                     ["batch", 3, 9, 9], [out("n1", 8, 9, 9), out("n2", 8, 7, 7)],
                     [numpy_helper.from_array(floats(8, 3, 3, 3, scale=0.3), "w")] + p1 + p2)
    f.add("shared_weights", shared_w, [{"x": x2(1)}], note="not folded: two Convs read the weights")
    f.finish()
    print(f"{f.count} cases in {f.out}")


if __name__ == "__main__":
    main()
