#!/usr/bin/env python3
"""Build the fixtures of value inputs: graph inputs whose values, not only their shapes,
decide how the graph is typed (a Reshape's shape, a Reduce's axes, Resize's scales, Slice's
starts and ends). Each model has several cases with different values, so a runtime must give
each set of values its own plan. The expected outputs are onnxruntime's (CPU, from Python).

Writes into OUT_DIR (default tests/fixtures/values), in the format of make_ml_fixtures.py.

Usage: .cache/venv/bin/python scripts/make_value_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
from onnx import TensorProto as T, helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import Fixtures, graph, vi  # noqa: E402

RNG = np.random.default_rng(11)


def ints(*values):
    return np.array(values, dtype=np.int64)


def main():
    fx = Fixtures.fresh("values")
    x = RNG.standard_normal(24).astype(np.float32)
    reshape_reduce = graph(
        [
            helper.make_node("Reshape", ["x", "shape"], ["r"]),
            helper.make_node("ReduceSum", ["r", "axes"], ["y"], keepdims=0),
        ],
        [vi("x", T.FLOAT, [24]), vi("shape", T.INT64, [3]), vi("axes", T.INT64, [1])],
        [vi("y", T.FLOAT, ["d0", "d1"])],
    )
    fx.add(
        "reshape_reduce",
        reshape_reduce,
        [
            {"x": x, "shape": ints(2, 3, 4), "axes": ints(1)},
            {"x": x, "shape": ints(2, 3, 4), "axes": ints(-1)},
            {"x": x, "shape": ints(4, 3, 2), "axes": ints(0)},
            {"x": x, "shape": ints(2, 3, 4), "axes": ints(1)},
        ],
    )
    image = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    resize = graph(
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")],
        [vi("x", T.FLOAT, [1, 2, 3, 4]), vi("scales", T.FLOAT, [4])],
        [vi("y", T.FLOAT, ["d0", "d1", "d2", "d3"])],
    )
    fx.add(
        "resize_scales",
        resize,
        [
            {"x": image, "scales": np.array([1, 1, 2, 2], np.float32)},
            {"x": image, "scales": np.array([1, 1, 1, 0.5], np.float32)},
        ],
    )
    slice_ = graph(
        [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])],
        [vi("x", T.FLOAT, ["n", 4]), vi("starts", T.INT64, [1]), vi("ends", T.INT64, [1]), vi("axes", T.INT64, [1])],
        [vi("y", T.FLOAT, ["d0", "d1"])],
    )
    rows = RNG.standard_normal((5, 4)).astype(np.float32)
    fx.add(
        "slice_inputs",
        slice_,
        [
            {"x": rows, "starts": ints(1), "ends": ints(3), "axes": ints(1)},
            {"x": rows, "starts": ints(-2), "ends": ints(5), "axes": ints(0)},
            {"x": rows[:2], "starts": ints(1), "ends": ints(3), "axes": ints(1)},
        ],
    )
    print(f"{fx.count} cases written to {fx.out}")


if __name__ == "__main__":
    main()
