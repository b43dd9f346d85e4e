#!/usr/bin/env python3
"""Writes models the benchmarks need that the shared corpus lacks, into .cache/bench/:
cnn.onnx, a small image CNN of a few MB (random weights; the structure is what is timed), and
gbdt.onnx, a LightGBM binary classifier of 500 trees of depth 8 on 32 features (trained on
synthetic data, exported by onnxmltools: one TreeEnsembleClassifier).
Usage: .cache/venv/bin/python scripts/make_bench_models.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", ".cache", "bench")


def cnn(rng):
    """Conv-BN-ReLU stages (32-64-128-256 channels) on 64x64 RGB, global pooling, a 10-way head."""
    nodes, inits, prev, ch = [], [], "image", 3
    for i, out in enumerate([32, 64, 64, 128, 128, 256, 256]):
        stride = 2 if i in (1, 3, 5) else 1
        w = (rng.standard_normal((out, ch, 3, 3)) * np.sqrt(2 / (ch * 9))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"),
                  numpy_helper.from_array((0.1 * rng.standard_normal(out)).astype(np.float32), f"b{i}"),
                  numpy_helper.from_array((1 + 0.1 * rng.standard_normal(out)).astype(np.float32), f"g{i}"),
                  numpy_helper.from_array((0.1 * rng.standard_normal(out)).astype(np.float32), f"beta{i}"),
                  numpy_helper.from_array((0.1 * rng.standard_normal(out)).astype(np.float32), f"mean{i}"),
                  numpy_helper.from_array((1 + 0.1 * rng.random(out)).astype(np.float32), f"var{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], strides=[stride, stride]),
                  helper.make_node("BatchNormalization", [f"c{i}", f"g{i}", f"beta{i}", f"mean{i}", f"var{i}"], [f"n{i}"]),
                  helper.make_node("Relu", [f"n{i}"], [f"r{i}"])]
        prev, ch = f"r{i}", out
    head = (rng.standard_normal((ch, 10)) / np.sqrt(ch)).astype(np.float32)
    inits.append(numpy_helper.from_array(head, "head"))
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["pooled"]),
              helper.make_node("Flatten", ["pooled"], ["flat"]),
              helper.make_node("MatMul", ["flat", "head"], ["logits"]),
              helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 64, 64])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def gbdt():
    """500 trees of depth 8 (up to 255 leaves each), as a fraud or credit model would have."""
    import lightgbm as lgb
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=40000, n_features=32, n_informative=20, flip_y=0.05, random_state=7)
    est = lgb.LGBMClassifier(n_estimators=500, max_depth=8, num_leaves=255, min_child_samples=5, learning_rate=0.05,
                             verbose=-1, random_state=7).fit(X.astype(np.float32), y)
    return convert_lightgbm(est, initial_types=[("x", FloatTensorType([None, 32]))], target_opset=15, zipmap=False)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, make in [("cnn", lambda: cnn(np.random.default_rng(7))), ("gbdt", gbdt)]:
        path = os.path.join(OUT, f"{name}.onnx")
        onnx.save(make(), path)
        print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path) / 1e6:.1f} MB)")
