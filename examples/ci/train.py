"""Trains the example pipeline's model: a scaler and a logistic regression on scikit-learn's
breast cancer data, exported to ONNX, and writes the held-out rows (features, then the true
label) for `edgeinfer compare`. The split is fixed, so every run holds out the same rows.

    python train.py --out model.onnx --holdout holdout.csv [--c 1.0]
"""
import argparse

import numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--holdout", required=True)
parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
args = parser.parse_args()

data = load_breast_cancer()
X, y = data.data.astype(np.float32), data.target
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
model = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=5000)).fit(X_train, y_train)
onx = to_onnx(model, X_train[:1], options={id(model.steps[-1][1]): {"zipmap": False}}, target_opset=17)
with open(args.out, "wb") as f:
    f.write(onx.SerializeToString())

names = [n.replace(" ", "_") for n in data.feature_names]
with open(args.holdout, "w") as f:
    f.write(",".join([*names, "benign"]) + "\n")
    for row, label in zip(X_test, y_test):
        f.write(",".join([*(f"{v:.9g}" for v in row), str(label)]) + "\n")
print(f"trained with C={args.c}: holdout accuracy {model.score(X_test, y_test):.4f} on {len(y_test)} rows")
