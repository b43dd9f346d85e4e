#!/usr/bin/env python3
"""Writes models the benchmarks need that the shared corpus lacks, into .cache/bench/:
cnn.onnx, a small image CNN of a few MB (random weights; the structure is what is timed);
gbdt.onnx, a LightGBM binary classifier of 500 trees of depth 8 on 32 features (trained on
synthetic data, exported by onnxmltools: one TreeEnsembleClassifier);
squeezenet, shufflenet, inception_v2, resnet50 and densenet121.onnx, real image CNNs of 5 to 102 MB
on [batch, 3, 224, 224]: the ONNX model zoo's caffe2 exports (opset 9) as the onnx package ships them
for its tests (onnx/backend/test/data/light/light_<name>.onnx), every weight a ConstantOfShape node
(the set's other four, bvlc_alexnet, inception_v1, vgg19 and zfnet512, are made the same way on
request, to check that they load and match onnxruntime; they are not benchmarked).
Those nodes become random initializers scaled by their use: He-normal conv weights, fully connected
ones N(0, 1/fan_in), BatchNormalization scales 1 + 0.1 N (0.1 + 0.01 N on the last one of a residual
branch, so that ResNet's and ShuffleNet's activations stay near 1), variances 1 + 0.1 |N|, means and
biases 0.1 N; the few small float tensors the files keep (trained values, which do not suit random
weights) are redrawn the same way. The IR version goes from 3 to 7, initializers leave the graph
inputs, and the batch dimension is symbolic (Reshape targets start with 0, copy, instead of 1);
minilm.onnx, a text encoder of MiniLM-L6's size (6 layers, d 384, 12 heads, FFN 1536, vocabulary
30522: 22.6M parameters, 90 MB; random weights N(0, 0.02)) as torch.onnx exports a BERT at opset 17:
input_ids and attention_mask int64 [batch, seq] in, last_hidden_state [batch, seq, 384] out, exact
GELU through Erf, LayerNormalization ops, (1 - mask) * float32 min added to the attention scores.
Each model is checked by one onnxruntime run (finite outputs) before it is kept.
Usage: .cache/venv/bin/python scripts/make_bench_models.py [--force] [all | MODEL ...]
(no MODEL: cnn and gbdt, which bench/paths.mjs asks for; an existing file is kept unless --force)
"""
import argparse
import os
import time

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


LIGHT = ["squeezenet", "shufflenet", "inception_v2", "resnet50", "densenet121"]
# The rest of onnx's light set: loaded and checked against onnxruntime (issue 19), not benchmarked.
LIGHT_OTHERS = ["bvlc_alexnet", "inception_v1", "vgg19", "zfnet512"]


def light(name, rng):
    """onnx's light_<name>.onnx with random weights in place of its ConstantOfShape nodes and a symbolic batch."""
    m = onnx.load(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"light_{name}.onnx"))
    g, users = m.graph, {}
    for n in g.node:
        for i, x in enumerate(n.input):
            users.setdefault(x, []).append((n, i))
    branch_ends = {n.input[0] for n in g.node if n.op_type == "Sum"}  # caffe2's Sum(branch, shortcut)

    def weight(name, shape):
        n, i = users[name][0]
        if n.op_type == "Unsqueeze":  # caffe2's scale layer after a BatchNormalization: Unsqueeze, then Mul or Add
            n, i = users[n.output[0]][0]
        z = rng.standard_normal(shape)
        if (n.op_type, i) == ("Conv", 1):
            z *= np.sqrt(2 / np.prod(shape[1:]))
        elif (n.op_type, i) == ("Gemm", 1):
            z /= np.sqrt(shape[1] if {a.name: a.i for a in n.attribute}.get("transB") else shape[0])
        elif (n.op_type, i) in [("BatchNormalization", 1), ("Mul", 1)]:
            z = (0.1 if n.output[0] in branch_ends else 1) * (1 + 0.1 * z)
        elif (n.op_type, i) == ("BatchNormalization", 4):
            z = 1 + 0.1 * np.abs(z)
        else:
            z *= 0.1
        return numpy_helper.from_array(z.astype(np.float32), name)

    inits = {t.name: t for t in g.initializer}
    weights = [weight(n.output[0], numpy_helper.to_array(inits[n.input[0]]))
               for n in g.node if n.op_type == "ConstantOfShape"]
    nodes = [n for n in g.node if n.op_type != "ConstantOfShape"]
    used, shapes = {x for n in nodes for x in n.input}, {n.input[1] for n in nodes if n.op_type == "Reshape"}
    # An activation's Reshape to [1, ...] becomes [0, ...], keeping the batch; inception_v1 also
    # reshapes a weight, to [1000, 1024], which stays as it is.
    batch_first = {s for s in shapes if numpy_helper.to_array(inits[s])[0] == 1}
    kept = [weight(t.name, tuple(t.dims)) if t.data_type == TensorProto.FLOAT else
            numpy_helper.from_array(np.r_[0, numpy_helper.to_array(t)[1:]], t.name) if t.name in batch_first else t
            for t in g.initializer if t.name in used]
    inputs = [v for v in g.input if v.name not in inits]  # IR 3 lists every initializer as an input too
    for v in inputs + list(g.output):
        assert v.type.tensor_type.shape.dim[0].dim_value == 1
        v.type.tensor_type.shape.dim[0].dim_param = "batch"
    for field, values in [(g.node, nodes), (g.initializer, kept + weights), (g.input, inputs)]:
        del field[:]
        field.extend(values)
    m.ir_version = max(m.ir_version, 7)
    onnx.checker.check_model(m)
    return m


def minilm(rng, layers=6, d=384, heads=12, ffn=1536, vocab=30522, max_positions=512):
    """A BERT encoder of MiniLM-L6's size, node for node as torch.onnx (opset 17) exports transformers' BertModel,
    but for dropout (gone) and the Reshape targets (constants with 0, copy, where torch computes them from Shape)."""
    nodes, inits = [], []

    def op(kind, *inputs, **attrs):
        nodes.append(helper.make_node(kind, list(inputs), [f"/{kind}_{len(nodes)}_output_0"], **attrs))
        return nodes[-1].output[0]

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def weight(name, *shape):
        return const(name, 0.02 * rng.standard_normal(shape))

    def linear(x, name, fan_in=d, fan_out=d):  # torch's Linear: MatMul by the transposed weight, then Add
        return op("Add", op("MatMul", x, weight(name + ".weight", fan_in, fan_out)), weight(name + ".bias", fan_out))

    def embedding(kind, rows, ids):
        return op("Gather", weight(f"embeddings.{kind}_embeddings.weight", rows, d), ids)

    def layer_norm(x, name):
        return op("LayerNormalization", x, const(name + ".weight", np.ones(d)), const(name + ".bias", np.zeros(d)),
                  axis=-1, epsilon=1e-12)

    def split_heads(x, perm):
        return op("Transpose", op("Reshape", x, "heads_shape"), perm=perm)

    const("heads_shape", [0, 0, heads, d // heads], np.int64)
    const("merged_shape", [0, 0, d], np.int64)
    const("zero", [0], np.int64)
    const("one", [1], np.int64)
    seq = op("Shape", "input_ids", start=1, end=2)  # BertEmbeddings' buffers, [1, 512], sliced to [1, seq]:
    token_types = op("Slice", const("embeddings.token_type_ids", np.zeros((1, max_positions)), np.int64),
                     "zero", seq, "one")
    position_ids = op("Slice", const("embeddings.position_ids", np.arange(max_positions)[None], np.int64),
                      "zero", seq, "one")
    h = op("Add", op("Add", embedding("word", vocab, "input_ids"), embedding("token_type", 2, token_types)),
           embedding("position", max_positions, position_ids))
    h = layer_norm(h, "embeddings.LayerNorm")
    mask = op("Cast", op("Unsqueeze", "attention_mask", const("mask_axes", [1, 2], np.int64)), to=TensorProto.FLOAT)
    mask = op("Mul", op("Sub", const("one_f", 1.0), mask), const("float_min", np.finfo(np.float32).min))
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q, k, v = (split_heads(linear(h, p + "attention.self." + n), perm)
                   for n, perm in [("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]), ("value", [0, 2, 1, 3])])
        scores = op("Add", op("Div", op("MatMul", q, k), const(p + "scale", np.sqrt(d // heads))), mask)
        probs = op("Softmax", scores, axis=-1)
        context = op("Reshape", op("Transpose", op("MatMul", probs, v), perm=[0, 2, 1, 3]), "merged_shape")
        h = layer_norm(op("Add", linear(context, p + "attention.output.dense"), h), p + "attention.output.LayerNorm")
        f = linear(h, p + "intermediate.dense", d, ffn)  # then exact GELU, as torch.onnx writes it before opset 20
        erf = op("Erf", op("Div", f, const(p + "sqrt2", np.sqrt(2))))
        f = op("Mul", op("Mul", f, op("Add", erf, const(p + "one", 1.0))), const(p + "half", 0.5))
        h = layer_norm(op("Add", linear(f, p + "output.dense", ffn, d), h), p + "output.LayerNorm")
    nodes[-1].output[0] = "last_hidden_state"
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"]) for n in ["input_ids", "attention_mask"]]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", d])
    g = helper.make_graph(nodes, "minilm", inputs, [output], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


MODELS = {"cnn": lambda: cnn(np.random.default_rng(7)), "gbdt": gbdt,
          **{name: (lambda name=name: light(name, np.random.default_rng(7))) for name in LIGHT + LIGHT_OTHERS},
          "minilm": lambda: minilm(np.random.default_rng(7))}


def check(path):
    """One onnxruntime run on a deterministic input (batch 1, 128 tokens, the last quarter masked): its outputs and time."""
    import onnxruntime as ort
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng, feeds = np.random.default_rng(0), {}
    for i in s.get_inputs():
        shape = [n if isinstance(n, int) else 128 if n == "seq" else 1 for n in i.shape]
        feeds[i.name] = (rng.standard_normal(shape).astype(np.float32) if i.type == "tensor(float)" else
                         (np.arange(128) < 96)[None].astype(np.int64) if i.name == "attention_mask" else
                         rng.integers(0, 30522, shape))
    start = time.perf_counter()
    outs = s.run(None, feeds)
    ms = (time.perf_counter() - start) * 1e3
    assert all(np.isfinite(o).all() for o in outs), f"{path}: non-finite outputs"
    return outs, ms


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", metavar="MODEL", help=f"all, or some of {', '.join(MODELS)} (default: cnn gbdt)")
    ap.add_argument("--force", action="store_true", help="rewrite models whose file exists")
    args = ap.parse_args()
    names = list(MODELS) if "all" in args.models else args.models or ["cnn", "gbdt"]
    if unknown := set(names) - set(MODELS):
        ap.error(f"unknown models: {', '.join(sorted(unknown))}")
    os.makedirs(OUT, exist_ok=True)
    for name in names:
        path = os.path.normpath(os.path.join(OUT, f"{name}.onnx"))
        if os.path.exists(path) and not args.force:
            print(f"kept {path} (it exists; --force rewrites it)")
            continue
        onnx.save(MODELS[name](), path + ".tmp")
        outs, ms = check(path + ".tmp")
        os.replace(path + ".tmp", path)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB); one onnxruntime run: {ms:.1f} ms, "
              f"outputs {', '.join(str(list(o.shape)) for o in outs)}")
