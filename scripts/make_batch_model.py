#!/usr/bin/env python3
"""Writes the batch benchmark's model and data into .cache/bench/: batch_logreg.onnx, a
scikit-learn pipeline (StandardScaler, then LogisticRegression) on 30 features f0..f29, as
skl2onnx exports it (a label, and the probabilities as a ZipMap), trained on synthetic data;
and batch_ROWS.csv, ROWS rows of an id column and the 30 features, for each ROWS given.
  make_batch_model.py [ROWS ...]
"""
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skl2onnx import to_onnx

out = os.path.join(os.path.dirname(__file__), "..", ".cache", "bench")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
FEATURES = 30

model_path = os.path.join(out, "batch_logreg.onnx")
if not os.path.exists(model_path):
    X = rng.normal(size=(5000, FEATURES)).astype(np.float32)
    y = (X @ rng.normal(size=FEATURES) + 0.5 * rng.normal(size=5000) > 0).astype(np.int64)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    onx = to_onnx(pipe, X[:1], target_opset=17)
    with open(model_path, "wb") as f:
        f.write(onx.SerializeToString())
    print(f"wrote {model_path}")

for rows in map(int, sys.argv[1:]):
    path = os.path.join(out, f"batch_{rows}.csv")
    if os.path.exists(path):
        continue
    with open(path + ".tmp", "w") as f:
        f.write("id," + ",".join(f"f{i}" for i in range(FEATURES)) + "\n")
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            X = rng.normal(size=(n, FEATURES)).astype(np.float32)
            ids = np.arange(start, start + n)
            body = np.column_stack([ids.astype(str), np.char.mod("%.7g", X)])
            f.write("\n".join(",".join(r) for r in body) + "\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.0f} MB)")
