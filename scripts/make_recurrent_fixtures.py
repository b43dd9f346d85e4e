#!/usr/bin/env python3
"""Build the fixtures of recurrent layers (LSTM, GRU, RNN), which edgeinfer computes itself
(src/ops/recurrent.rs): forward, reverse and bidirectional; with and without biases,
initial states and per-row sequence lengths; LSTM peepholes, clip and input_forget; GRU's
linear_before_reset; activations other than the defaults; each output alone and all three;
batch 1 and batch 3. Every expected output is onnxruntime's.

Writes into OUT_DIR (default tests/fixtures/recurrent), in the format of make_ml_fixtures.py.

Usage: .cache/venv/bin/python scripts/make_recurrent_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
from onnx import TensorProto as T, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_ml_fixtures import Fixtures, graph, vi  # noqa: E402

RNG = np.random.default_rng(23)
SEQ, INPUT, HIDDEN = 5, 4, 3
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def floats(*shape, scale=0.5):
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def layer(op, direction="forward", bias=True, lengths=False, initial=False, peepholes=False, outputs=("Y", "Y_h", "Y_c"),
          **attrs):
    """One recurrent node with constant weights; X (and sequence_lens, initial states) fed."""
    dirs = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    inits = [numpy_helper.from_array(floats(dirs, g * HIDDEN, INPUT), "W"), numpy_helper.from_array(floats(dirs, g * HIDDEN, HIDDEN), "R")]
    names = ["X", "W", "R"]
    if bias:
        inits.append(numpy_helper.from_array(floats(dirs, 2 * g * HIDDEN, scale=0.2), "B"))
    names.append("B" if bias else "")
    inputs = [vi("X", T.FLOAT, [SEQ, "batch", INPUT])]
    names.append("sequence_lens" if lengths else "")
    if lengths:
        inputs.append(vi("sequence_lens", T.INT32, ["batch"]))
    names += ["initial_h" if initial else ""]
    if initial:
        inputs.append(vi("initial_h", T.FLOAT, [dirs, "batch", HIDDEN]))
    if op == "LSTM":
        names.append("initial_c" if initial else "")
        if initial:
            inputs.append(vi("initial_c", T.FLOAT, [dirs, "batch", HIDDEN]))
        names.append("P" if peepholes else "")
        if peepholes:
            inits.append(numpy_helper.from_array(floats(dirs, 3 * HIDDEN), "P"))
    while names and names[-1] == "":
        names.pop()
    shapes = {"Y": [SEQ, dirs, "batch", HIDDEN], "Y_h": [dirs, "batch", HIDDEN], "Y_c": [dirs, "batch", HIDDEN]}
    slots = ["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"]
    out_names = [s if s in outputs else "" for s in slots]
    while out_names and out_names[-1] == "":
        out_names.pop()
    node = helper.make_node(op, names, out_names, direction=direction, hidden_size=HIDDEN, **attrs)
    return graph([node], inputs, [vi(s, T.FLOAT, shapes[s]) for s in out_names if s], inits), dirs


def feeds(dirs, batch, lengths=False, initial=False, lstm=False):
    f = {"X": floats(SEQ, batch, INPUT, scale=1.0)}
    if lengths:
        f["sequence_lens"] = np.array([SEQ, 2, 4][:batch], np.int32) if batch > 1 else np.array([3], np.int32)
    if initial:
        f["initial_h"] = floats(dirs, batch, HIDDEN)
        if lstm:
            f["initial_c"] = floats(dirs, batch, HIDDEN)
    return f


def add(f, name, op, **options):
    model, dirs = layer(op, **options)
    flags = {k: options.get(k, False) for k in ("lengths", "initial")}
    f.add(name, model, [feeds(dirs, batch, lstm=op == "LSTM", **flags) for batch in (1, 3)], rtol=1e-4, atol=1e-5)


def main():
    f = Fixtures.fresh("recurrent")
    for op in ["LSTM", "GRU", "RNN"]:
        low = op.lower()
        for direction in ["forward", "reverse", "bidirectional"]:
            add(f, f"{low}_{direction}", op, direction=direction)
        add(f, f"{low}_lengths_initial", op, direction="bidirectional", lengths=True, initial=True)
        add(f, f"{low}_no_bias_last_state_only", op, bias=False, outputs=("Y_h",))
    add(f, "lstm_peepholes_clip", "LSTM", direction="bidirectional", peepholes=True, clip=0.8)
    add(f, "lstm_input_forget", "LSTM", input_forget=1, outputs=("Y", "Y_c"))
    add(f, "lstm_activations", "LSTM", activations=["HardSigmoid", "Tanh", "Softsign"], activation_alpha=[0.3], activation_beta=[0.6])
    add(f, "gru_linear_before_reset", "GRU", direction="bidirectional", linear_before_reset=1, lengths=True)
    add(f, "gru_activations", "GRU", activations=["Sigmoid", "LeakyRelu"], activation_alpha=[0.2])
    add(f, "rnn_relu", "RNN", direction="reverse", activations=["Relu"], lengths=True)
    f.finish()
    print(f"wrote {f.count} cases to {os.path.normpath(f.out)}")


if __name__ == "__main__":
    main()
