#!/usr/bin/env python3
"""Build tests/fixtures/monitor/quality.json: labels, predictions and scores with the quality
metrics scikit-learn computes on them, for tests/core/monitor.rs to compare the core's with.

Cases (fixed seeds):
  binary       500 rows, two score columns rounded to 0.01 (so scores tie), argmax labels
  multiclass   600 rows, four classes, softmax scores, one-vs-rest macro ROC AUC
  window       the multiclass rows, metrics over the last 200 only (the sliding window)
  strings      300 rows of string classes without scores (sorted as scikit-learn sorts)
  regression   400 rows: MAE and RMSE

Scores and regression predictions are float32 values (as the model outputs them), written
as the float64 numbers they equal.

Usage: /work/main/.cache/venv/bin/python scripts/make_monitor_fixtures.py [OUT]
"""
import json
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, mean_absolute_error, mean_squared_error,
                             precision_recall_fscore_support, roc_auc_score)


def classification(y_true, y_pred, scores=None, multi=False):
    labels = sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None, zero_division=0)
    out = {
        "classes": [str(c) for c in labels],
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        out[avg] = {"precision": p, "recall": r, "f1": f}
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        out["roc_auc"] = roc_auc_score(y_true, scores, multi_class="ovr", average="macro") if multi else roc_auc_score(y_true, scores[:, 1])
    return out


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def main(out):
    rng = np.random.default_rng(20261125)
    cases = {}

    n = 500
    y = rng.integers(0, 2, n)
    s1 = f32(np.round(1 / (1 + np.exp(-(1.2 * (2 * y - 1) + rng.normal(0, 1.5, n)))), 2))
    scores = np.stack([f32(1 - s1), s1], axis=1)
    pred = scores.argmax(axis=1)
    cases["binary"] = {"y_true": y.tolist(), "y_pred": pred.tolist(), "scores": scores.tolist(), "expected": classification(y.tolist(), pred.tolist(), scores)}

    n, k = 600, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.0
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p = f32(p)
    pred = p.argmax(axis=1)
    cases["multiclass"] = {"y_true": y.tolist(), "y_pred": pred.tolist(), "scores": p.tolist(), "expected": classification(y.tolist(), pred.tolist(), p, multi=True)}
    w = 200
    cases["window"] = {"window": w, "y_true": y.tolist(), "y_pred": pred.tolist(), "scores": p.tolist(),
                       "expected": classification(y[-w:].tolist(), pred[-w:].tolist(), p[-w:], multi=True)}

    n = 300
    names = np.array(["cat", "dog", "emu"])
    y = names[rng.integers(0, 3, n)]
    pred = np.where(rng.random(n) < 0.7, y, names[rng.integers(0, 3, n)])
    cases["strings"] = {"y_true": y.tolist(), "y_pred": pred.tolist(), "expected": classification(y.tolist(), pred.tolist())}

    n = 400
    y = rng.normal(150, 60, n)
    pred = f32(y + rng.normal(5, 30, n))
    cases["regression"] = {"y_true": y.tolist(), "y_pred": pred.tolist(),
                           "expected": {"mae": mean_absolute_error(y, pred), "rmse": float(np.sqrt(mean_squared_error(y, pred)))}}

    with open(out, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/monitor/quality.json")
