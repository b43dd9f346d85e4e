#!/usr/bin/env python3
"""Trains the bundled example, an iris classifier, and writes examples/iris.onnx.

A logistic regression on standardised features, with the scaling folded into the weights,
exported as plain ONNX (MatMul, Add, Softmax, ArgMax). Run by hand; its output is committed.
Usage: .cache/venv/bin/python scripts/make_example.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

iris = load_iris()
X, y = iris.data.astype(np.float32), iris.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
mean, std = X_train.mean(0), X_train.std(0)
clf = LogisticRegression(max_iter=1000).fit((X_train - mean) / std, y_train)
print(f"held-out accuracy: {clf.score((X_test - mean) / std, y_test):.3f}")

# (x - mean) / std @ W.T + b  ==  x @ (W / std).T + (b - (mean / std) @ W.T)
W = (clf.coef_ / std).T.astype(np.float32)
b = (clf.intercept_ - (mean / std) @ clf.coef_.T).astype(np.float32)
nodes = [
    helper.make_node("MatMul", ["features", "W"], ["logits0"]),
    helper.make_node("Add", ["logits0", "b"], ["logits"]),
    helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
]
graph = helper.make_graph(
    nodes, "iris",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3]),
     helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeinfer-example")
model.ir_version = 8
helper.set_model_props(model, {
    "feature_names": ",".join(n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names),
    "class_labels": ",".join(iris.target_names),
})
onnx.checker.check_model(model)
out = os.path.join(os.path.dirname(__file__), "..", "examples", "iris.onnx")
onnx.save(model, out)
print(f"wrote {os.path.normpath(out)} ({os.path.getsize(out)} bytes)")
