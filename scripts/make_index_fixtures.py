#!/usr/bin/env python3
"""Build the fixtures of the operators that index with a tensor a caller can feed: Gather,
GatherElements, GatherND, ScatterElements and OneHot. In-range indices, negative ones and
OneHot's out-of-range positions (a row of off values, as the specification says) are
compared with onnxruntime; out-of-range indices for the others must be refused with
E_RUNTIME, as onnxruntime refuses them.

Writes into OUT_DIR (default tests/fixtures/indices), in the format of make_ml_fixtures.py.

Usage: /work/main/.cache/venv/bin/python scripts/make_index_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
from onnx import TensorProto as T, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import Fixtures, vi  # noqa: E402


def model(name, node, inputs, outputs, inits=()):
    g = helper.make_graph([node], name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def main():
    f = Fixtures.fresh("indices")
    table = numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(4, 5), "table")
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731

    gather = model("gather", helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0, name="lookup"),
                   [vi("ids", T.INT64, ["n"])], [vi("rows", T.FLOAT, ["n", 5])], [table])
    f.add("gather", gather, [{"ids": i64(3, 0, -1)}], note="Gather, in range and negative")
    f.bad_input("gather_out_of_range", gather, {"ids": i64(1, 7)}, "E_RUNTIME",
                ["Gather node 'lookup'", "index 7 is out of range for axis 0 of size 4", "-4 to 3"])
    f.bad_input("gather_below_range", gather, {"ids": i64(-5)}, "E_RUNTIME", ["index -5", "size 4"])

    elements = model("gather_elements", helper.make_node("GatherElements", ["table", "ids"], ["y"], axis=1, name="pick"),
                     [vi("ids", T.INT64, [4, 2])], [vi("y", T.FLOAT, [4, 2])], [table])
    f.add("gather_elements", elements, [{"ids": i64(0, 4, 1, -1, 2, 2, 3, 0).reshape(4, 2)}], note="GatherElements on axis 1")
    f.bad_input("gather_elements_out_of_range", elements, {"ids": i64(0, 4, 1, 5, 2, 2, 3, 0).reshape(4, 2)}, "E_RUNTIME",
                ["GatherElements node 'pick'", "index 5", "axis 1 of size 5"])

    nd = model("gather_nd", helper.make_node("GatherND", ["table", "ids"], ["y"], name="cells"),
               [vi("ids", T.INT64, ["n", 2])], [vi("y", T.FLOAT, ["n"])], [table])
    f.add("gather_nd", nd, [{"ids": i64(0, 0, 3, 4, -1, -5).reshape(3, 2)}], note="GatherND of cells")
    f.bad_input("gather_nd_out_of_range", nd, {"ids": i64(1, 2, 3, 9).reshape(2, 2)}, "E_RUNTIME",
                ["node 'cells'", "index 9", "axis 1 of size 5"])

    scatter = model("scatter_elements",
                    helper.make_node("ScatterElements", ["table", "ids", "updates"], ["y"], axis=0, name="put"),
                    [vi("ids", T.INT64, [1, 5]), vi("updates", T.FLOAT, [1, 5])], [vi("y", T.FLOAT, [4, 5])], [table])
    updates = np.full((1, 5), -1, np.float32)
    f.add("scatter_elements", scatter, [{"ids": i64(0, 1, 2, 3, -1).reshape(1, 5), "updates": updates}],
          note="ScatterElements on axis 0")
    f.bad_input("scatter_elements_out_of_range", scatter, {"ids": i64(0, 1, 4, 3, 0).reshape(1, 5), "updates": updates},
                "E_RUNTIME", ["ScatterElements node 'put'", "index 4", "axis 0 of size 4"])

    # Shapes that do not fit, with dimensions only known at run time.
    elements_any = model("gather_elements_shapes", helper.make_node("GatherElements", ["data", "ids"], ["y"], axis=0, name="pick"),
                         [vi("data", T.FLOAT, ["a", "b"]), vi("ids", T.INT64, ["c", "d"])], [vi("y", T.FLOAT, ["c", "d"])])
    f.bad_input("gather_elements_too_wide", elements_any, {"data": np.zeros((4, 2), np.float32), "ids": np.zeros((1, 3), np.int64)},
                "E_RUNTIME", ["node 'pick'", "indices of shape [1, 3] do not fit data of shape [4, 2]"])
    nd_any = model("gather_nd_batch", helper.make_node("GatherND", ["data", "ids"], ["y"], batch_dims=1, name="cells"),
                   [vi("data", T.FLOAT, ["a", "b"]), vi("ids", T.INT64, ["c", 1])], [vi("y", T.FLOAT, ["c"])])
    f.add("gather_nd_batch", nd_any, [{"data": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": i64(2, 0).reshape(2, 1)}],
          note="GatherND with a batch axis")
    f.bad_input("gather_nd_batch_mismatch", nd_any, {"data": np.zeros((2, 3), np.float32), "ids": i64(0, 0, 0).reshape(3, 1)},
                "E_RUNTIME", ["node 'cells'", "indices of shape [3, 1] do not fit data of shape [2, 3]"], ort_must_fail=False)
    snd = model("scatter_nd_shapes", helper.make_node("ScatterND", ["data", "ids", "updates"], ["y"], name="place"),
                [vi("data", T.FLOAT, ["a", "b"]), vi("ids", T.INT64, ["c", 1]), vi("updates", T.FLOAT, ["e", "f"])],
                [vi("y", T.FLOAT, ["a", "b"])])
    f.add("scatter_nd", snd, [{"data": np.zeros((4, 5), np.float32), "ids": i64(3, 1).reshape(2, 1), "updates": np.ones((2, 5), np.float32)}],
          note="ScatterND of rows")
    f.bad_input("scatter_nd_updates", snd, {"data": np.zeros((4, 5), np.float32), "ids": i64(1).reshape(1, 1), "updates": np.ones((1, 3), np.float32)},
                "E_RUNTIME", ["node 'place'", "updates of shape [1, 3], expected [1, 5]"])
    fixed = model("gather_constant_out_of_range", helper.make_node("Gather", ["data", "ids"], ["rows"], axis=0, name="lookup"),
                  [vi("data", T.FLOAT, [4, 5])], [vi("rows", T.FLOAT, [1, 5])], [numpy_helper.from_array(i64(7), "ids")])
    f.bad_model("gather_constant_out_of_range", fixed, ["Gather node 'lookup'", "index 7 is out of range for axis 0 of size 4"])

    depth = numpy_helper.from_array(np.array(3, np.int64), "depth")
    values = numpy_helper.from_array(np.array([-1, 5], np.float32), "values")
    for axis in [-1, 0]:
        shape = ["n", 3] if axis == -1 else [3, "n"]
        onehot = model(f"onehot_axis{axis}", helper.make_node("OneHot", ["ids", "depth", "values"], ["y"], axis=axis, name="hot"),
                       [vi("ids", T.INT64, ["n"])], [vi("y", T.FLOAT, shape)], [depth, values])
        f.add(f"onehot_axis{axis}", onehot, [{"ids": i64(0, 2, -1, 3, -4, 99)}],
              note=f"OneHot on axis {axis}: positions out of [-3, 3) give a row of off values")
    zero = model("onehot_depth0", helper.make_node("OneHot", ["ids", "depth", "values"], ["y"], axis=-1, name="hot"),
                 [vi("ids", T.INT64, ["n"])], [vi("y", T.FLOAT, ["n", 0])],
                 [numpy_helper.from_array(np.array(0, np.int64), "depth"), values])
    f.bad_model("onehot_depth0", zero, ["Onehot node 'hot'", "depth is 0, expected a positive number of classes"])
    f.add("onehot_no_positions", model("onehot_empty", helper.make_node("OneHot", ["ids", "depth", "values"], ["y"], axis=-1, name="hot"),
                                       [vi("ids", T.INT64, ["n"])], [vi("y", T.FLOAT, ["n", 3])], [depth, values]),
          [{"ids": np.zeros(0, np.int64)}], expect=lambda feeds: {"y": np.zeros((0, 3), np.float32)},
          note="OneHot of no positions: an empty output (onnxruntime 1.23 dies of SIGFPE on it)")
    f.finish()
    print(f"{f.count} cases, {len(f.bad_models)} malformed models, {len(f.bad_inputs)} refused inputs in {f.out}")


if __name__ == "__main__":
    main()
