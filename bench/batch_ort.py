#!/usr/bin/env python3
"""The batch benchmark's anchor: Python onnxruntime and pandas scoring a CSV as a data
scientist would (read_csv, run, to_csv), on one thread. Prints seconds and peak RSS as JSON.
  batch_ort.py MODEL.onnx INPUT.csv OUTPUT.csv
"""
import json
import resource
import sys
import time

started = time.perf_counter()
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pandas as pd  # noqa: E402

model, source, target = sys.argv[1:4]
frame = pd.read_csv(source)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
label, probabilities = session.run(None, {name: frame.drop(columns=["id"]).to_numpy(np.float32)})
out = pd.concat(
    [
        pd.DataFrame({"id": frame["id"], "output_label": label}),
        pd.DataFrame(probabilities).add_prefix("output_probability_"),
    ],
    axis=1,
)
out.to_csv(target, index=False)
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "peakMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
