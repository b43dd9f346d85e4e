#!/usr/bin/env python3
"""Build the ai.onnx.ml fixtures of tests/core/ml_ops.rs: models, inputs, onnxruntime outputs.

Models are trained with scikit-learn on the data sets it ships (iris, wine, breast_cancer,
diabetes, digits) and exported with skl2onnx; where exporters never emit an option
(Binarizer thresholds, Imputer variants, LabelEncoder opset-4 tensors, OneHotEncoder zeros=0
and int64 categories, SVM kernels, one-class and liblinear modes, post transforms) the node
is built or edited with the onnx package from the trained model's numbers.

Writes into OUT_DIR (default tests/fixtures/ml):
  <case>.onnx, <case>.<i>.json    one JSON per set of feeds, in the corpus case format
                                  (see the corpus in tests/fixtures/corpus); a ZipMap output
                                  (a list of maps) is {"dtype": "map", "shape": [N],
                                  "keys": [labels], "b64": row-major float32 probabilities}
  bad_models.json + bad_*.onnx    malformed attributes: expected code and message parts
  bad_inputs.json                 valid models fed values they must refuse at run time,
                                  with onnxruntime's own error for the record

Usage: /work/main/.cache/venv/bin/python scripts/make_ml_fixtures.py [OUT_DIR]
"""
import base64
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")
ML = "ai.onnx.ml"
DTYPES = {"float32", "float64", "int64", "int32", "bool"}


def encode(a):
    if isinstance(a, list) and (not a or isinstance(a[0], dict)):
        keys = list(a[0].keys()) if a else []
        probs = np.array([[row[k] for k in keys] for row in a], np.float32)
        return {"dtype": "map", "shape": [len(a)], "keys": [k if isinstance(k, str) else int(k) for k in keys],
                "b64": base64.b64encode(probs.astype("<f4").tobytes()).decode()}
    a = np.asarray(a)
    if a.dtype.kind in "OUS":
        return {"dtype": "string", "shape": list(a.shape), "strings": [str(s) for s in a.ravel()]}
    assert a.dtype.name in DTYPES, a.dtype
    return {"dtype": a.dtype.name, "shape": list(a.shape),
            "b64": base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).decode()}


def session(model_bytes):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def reference(model_bytes, feeds):
    s = session(model_bytes)
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


class Fixtures:
    @classmethod
    def fresh(cls, kind):
        """Fixtures written into argv[1], else tests/fixtures/KIND, emptied first."""
        out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", kind)
        for name in os.listdir(out) if os.path.isdir(out) else []:
            os.remove(os.path.join(out, name))
        return cls(out)

    def __init__(self, out):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.count = 0
        self.bad_models = []
        self.bad_inputs = []

    def add(self, name, model, feeds_list, rtol=1e-4, atol=1e-5, note="", expect=None):
        """`expect(feeds)`, where given, replaces onnxruntime's outputs: for the few options
        where onnxruntime contradicts the specification (the note says which)."""
        b = model if isinstance(model, bytes) else model.SerializeToString()
        open(os.path.join(self.out, f"{name}.onnx"), "wb").write(b)
        for i, feeds in enumerate(feeds_list):
            outs = expect(feeds) if expect else reference(b, feeds)
            case = {"name": f"{name}#{i}", "model": f"{name}.onnx", "rtol": rtol, "atol": atol, "note": note,
                    "inputs": {k: encode(v) for k, v in feeds.items()},
                    "outputs": {k: encode(v) for k, v in outs.items()}}
            with open(os.path.join(self.out, f"{name}.{i}.json"), "w") as f:
                json.dump(case, f)
            self.count += 1

    def bad_model(self, name, model, contains, code="E_MODEL_INVALID"):
        """A model that must be refused at load with `code`, naming what is wrong (for malformed
        attributes, the operator and the attribute)."""
        b = model.SerializeToString()
        path = os.path.join(self.out, f"bad_{name}.onnx")
        open(path, "wb").write(b)
        # In a child process: onnxruntime aborts on some malformed attributes (an assert).
        probe = ("import sys, onnxruntime as o; s = o.SessionOptions(); s.log_severity_level = 3\n"
                 "try:\n o.InferenceSession(sys.argv[1], s, providers=['CPUExecutionProvider']); print('loads it')\n"
                 "except Exception as e: print(str(e).splitlines()[0][:200])")
        r = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True)
        # The file's own name, not where this machine keeps it: the record stays the same anywhere.
        ort_error = r.stdout.strip().replace(path, os.path.basename(path)) or f"crashes ({r.returncode})"
        self.bad_models.append({"model": f"bad_{name}.onnx", "code": code, "contains": contains,
                                "onnxruntime": ort_error})

    def bad_input(self, name, model, feeds, code, contains, ort_must_fail=True):
        """A valid model and feeds it must refuse at run time. onnxruntime refuses them too,
        except where `ort_must_fail` is False (it reads out of bounds instead)."""
        b = model.SerializeToString()
        open(os.path.join(self.out, f"{name}.onnx"), "wb").write(b)
        try:
            session(b).run(None, feeds)
            ort_error = None
        except Exception as e:  # noqa: BLE001 (onnxruntime raises several types)
            ort_error = str(e).splitlines()[0][:200]
        if ort_must_fail and ort_error is None:
            raise SystemExit(f"{name}: onnxruntime accepted feeds the fixture says must fail")
        self.bad_inputs.append({"name": name, "model": f"{name}.onnx", "inputs": {k: encode(v) for k, v in feeds.items()},
                                "code": code, "contains": contains, "onnxruntime": ort_error or "accepts it"})

    def finish(self):
        for name, items in [("bad_models.json", self.bad_models), ("bad_inputs.json", self.bad_inputs)]:
            with open(os.path.join(self.out, name), "w") as f:
                json.dump(items, f, indent=1)


def graph(nodes, inputs, outputs, inits=(), ml_opset=3, check=True):
    g = helper.make_graph(nodes, "ml", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ML, ml_opset)])
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m)
    return m


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def ml_node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, domain=ML, name=f"{op.lower()}_0", **attrs)


def single(op_node_or_attrs, x_elem, x_shape, outs):
    """A graph of one ai.onnx.ml node fed by one input 'X'."""
    return graph([op_node_or_attrs], [vi("X", x_elem, x_shape)], [vi(n, e, s) for n, e, s in outs])


def isolate(onx, op_type, x_name="X", outs=None, edit=None):
    """The first `op_type` node of an exported model, alone in a graph fed by its input.
    `edit(node)` changes attributes; `outs` names the outputs' (elem, shape)."""
    node = next(n for n in onx.graph.node if n.op_type == op_type)
    node = onnx.NodeProto.FromString(node.SerializeToString())
    node.name = f"{op_type.lower()}_0"
    node.input[0] = x_name
    if edit:
        edit(node)
    x = next(i for i in onx.graph.input)
    x_elem = x.type.tensor_type.elem_type
    x_shape = [d.dim_value if d.dim_value else None for d in x.type.tensor_type.shape.dim]
    outputs = [vi(n, e, s) for n, (e, s) in zip(node.output, outs)]
    return graph([node], [vi(x_name, x_elem, x_shape)], outputs)


def set_attr(node, name, value):
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    if value is not None:
        node.attribute.append(helper.make_attribute(name, value))


def data():
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
    d = {}
    for name, loader in [("iris", load_iris), ("wine", load_wine), ("breast_cancer", load_breast_cancer),
                         ("diabetes", load_diabetes), ("digits", load_digits)]:
        X, y = loader(return_X_y=True)
        d[name] = (X.astype(np.float32), y)
    return d


def std(X):
    return ((X - X.mean(0)) / (X.std(0) + 1e-6)).astype(np.float32)


def preprocessing(f, d, rng):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import Binarizer, StandardScaler
    from skl2onnx import to_onnx
    opset = {"": 17, ML: 3}
    Xb, _ = d["breast_cancer"]
    sc = StandardScaler().fit(Xb)
    big = Xb[100:164].copy()
    big[3, 7] = np.nan
    f.add("scaler_standard_breast_cancer", to_onnx(sc, Xb[:1], target_opset=opset), [{"X": Xb[:1]}, {"X": big}],
          note="StandardScaler: per-feature Scaler, NaN passes through")
    Xw, _ = d["wine"]
    wi = np.round(Xw).astype(np.int64)
    m = single(ml_node("Scaler", ["X"], ["Y"], offset=[10.0], scale=[0.5]), TensorProto.INT64, [None, 13],
               [("Y", TensorProto.FLOAT, [None, 13])])
    f.add("scaler_one_value_int64_wine", m, [{"X": wi[:1]}, {"X": wi[::3]}], note="Scaler with one offset/scale, int64 input")
    Xd, _ = d["diabetes"]
    m = single(ml_node("Scaler", ["X"], ["Y"], offset=[float(v) for v in Xd.mean(0)], scale=[float(v) for v in 1 / Xd.std(0)]),
               TensorProto.DOUBLE, [None, 10], [("Y", TensorProto.FLOAT, [None, 10])])
    f.add("scaler_double_diabetes", m, [{"X": Xd[:1].astype(np.float64)}, {"X": Xd[50:120].astype(np.float64)}],
          note="Scaler, double input")

    holes = Xb.copy()
    holes[rng.random(holes.shape) < 0.1] = np.nan
    imp = SimpleImputer(strategy="mean").fit(holes)
    f.add("imputer_mean_breast_cancer", to_onnx(imp, holes[:1], target_opset=opset),
          [{"X": holes[:1]}, {"X": holes[200:280]}], note="SimpleImputer: NaN marker, per-feature means")
    wz = wi.copy()
    wz[rng.random(wz.shape) < 0.15] = 0
    m = single(ml_node("Imputer", ["X"], ["Y"], imputed_value_int64s=[int(v) for v in np.median(wi, 0)], replaced_value_int64=0),
               TensorProto.INT64, [None, 13], [("Y", TensorProto.INT64, [None, 13])])
    f.add("imputer_int64_wine", m, [{"X": wz[:1]}, {"X": wz[::2]}], note="Imputer, int64 values per feature")
    dz = Xd.copy()
    dz[rng.random(dz.shape) < 0.2] = 0.0
    dz[5, 2] = np.nan
    m = single(ml_node("Imputer", ["X"], ["Y"], imputed_value_floats=[-1.0], replaced_value_float=0.0),
               TensorProto.FLOAT, [None, 10], [("Y", TensorProto.FLOAT, [None, 10])])
    f.add("imputer_one_float_diabetes", m, [{"X": dz[:1]}, {"X": dz[:90]}],
          note="Imputer, one value, marker 0 (NaN stays NaN)")

    Xi, _ = d["iris"]
    f.add("binarizer_iris", to_onnx(Binarizer(threshold=1.5).fit(Xi), Xi[:1], target_opset=opset),
          [{"X": Xi[:1]}, {"X": Xi[::2]}], note="Binarizer, threshold 1.5")
    m = single(ml_node("Binarizer", ["X"], ["Y"]), TensorProto.FLOAT, [None, 4], [("Y", TensorProto.FLOAT, [None, 4])])
    f.add("binarizer_default_threshold_iris", m, [{"X": std(Xi)[::5]}], note="Binarizer without threshold (default 0)")

    ws = std(Xw)
    rows = np.concatenate([ws[:40], np.zeros((1, 13), np.float32), -np.abs(ws[40:41])])
    for norm in ["MAX", "L1", "L2"]:
        m = single(ml_node("Normalizer", ["X"], ["Y"], norm=norm), TensorProto.FLOAT, [None, 13],
                   [("Y", TensorProto.FLOAT, [None, 13])])
        f.add(f"normalizer_{norm.lower()}_wine", m, [{"X": rows[:1]}, {"X": rows}],
              note=f"Normalizer {norm}: negative values, an all-zero row, an all-negative row")
    m = single(ml_node("Normalizer", ["X"], ["Y"], norm="L2"), TensorProto.INT64, [None, 13], [("Y", TensorProto.FLOAT, [None, 13])])
    f.add("normalizer_l2_int64_wine", m, [{"X": wi[::4]}], note="Normalizer L2, int64 input")


def iris_words(Xi):
    """Petal length binned into words: a real categorical column."""
    return np.where(Xi[:, 2] < 2.5, "short", np.where(Xi[:, 2] < 5.0, "medium", "long")).astype(object)


def categorical(f, d):
    Xi, yi = d["iris"]
    words = iris_words(Xi).reshape(-1, 1)
    feeds = words[::10].copy()
    feeds[3, 0] = "giant"
    cats = ["short", "medium", "long"]
    m = single(ml_node("OneHotEncoder", ["X"], ["Y"], cats_strings=cats, zeros=1), TensorProto.STRING, [None, 1],
               [("Y", TensorProto.FLOAT, [None, 1, 3])])
    f.add("onehot_strings_iris", m, [{"X": words[:1]}, {"X": feeds}], note="OneHotEncoder, strings, an unseen category")
    m = single(ml_node("OneHotEncoder", ["X"], ["Y"], cats_strings=cats, zeros=0), TensorProto.STRING, [None, 1],
               [("Y", TensorProto.FLOAT, [None, 1, 3])])
    f.add("onehot_zeros0_iris", m, [{"X": words[::7]}], note="OneHotEncoder zeros=0, known categories only")
    f.bad_input("onehot_zeros0_unseen_iris", m, {"X": feeds}, "E_INPUT_VALUE", ["OneHotEncoder", "giant", "zeros=0"])
    Xw, yw = d["wine"]
    bins = np.stack([yw, np.round(Xw[:, 7] * 10) % 5], 1).astype(np.int64)
    bins[2, 1] = 42
    m = single(ml_node("OneHotEncoder", ["X"], ["Y"], cats_int64s=[0, 1, 2, 3, 4]), TensorProto.INT64, [None, 2],
               [("Y", TensorProto.FLOAT, [None, 2, 5])])
    f.add("onehot_int64_wine", m, [{"X": bins[:1]}, {"X": bins[::6]}], note="OneHotEncoder, int64 categories, an unseen 42")
    m = single(ml_node("OneHotEncoder", ["X"], ["Y"], cats_int64s=[1, 3, 5, 6]), TensorProto.FLOAT, [None],
               [("Y", TensorProto.FLOAT, [None, 4])])
    f.add("onehot_float_input_iris", m, [{"X": Xi[::9, 2].copy()}], note="OneHotEncoder, float input truncated to int64")

    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    from sklearn.preprocessing import LabelEncoder
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    le = LabelEncoder().fit(names[yi])
    onx = to_onnx(le, initial_types=[("X", StringTensorType([None]))], target_opset={"": 17, ML: 2})
    target = names[yi[::10]].copy()
    target[2] = "rose"
    f.add("label_encoder_v2_string_int64_iris", onx, [{"X": target}], note="LabelEncoder (opset 2) from scikit-learn, an unseen key")
    m = graph([ml_node("LabelEncoder", ["X"], ["Y"], keys_int64s=[0, 1, 2], values_strings=list(names), default_string="none")],
              [vi("X", TensorProto.INT64, [None])], [vi("Y", TensorProto.STRING, [None])], ml_opset=2)
    f.add("label_encoder_v2_int64_string_wine", m, [{"X": np.concatenate([yw[::15], [7]]).astype(np.int64)}],
          note="LabelEncoder int64 to string, default_string")
    m = graph([ml_node("LabelEncoder", ["X"], ["Y"], keys_strings=["short", "medium", "long"], values_floats=[1.0, 4.0, 6.0])],
              [vi("X", TensorProto.STRING, [None, 1])], [vi("Y", TensorProto.FLOAT, [None, 1])], ml_opset=2)
    f.add("label_encoder_v2_string_float_iris", m, [{"X": feeds}], note="LabelEncoder string to float, default -0.0")
    m = graph([ml_node("LabelEncoder", ["X"], ["Y"], keys_floats=[1.5, 0.2, 0.0], values_int64s=[15, 2, 0], default_int64=-7)],
              [vi("X", TensorProto.FLOAT, [None, 4])], [vi("Y", TensorProto.INT64, [None, 4])], ml_opset=2)
    xf = Xi[:20].copy()
    xf[0, 0] = -0.0
    f.add("label_encoder_v2_float_int64_iris", m, [{"X": xf}], note="LabelEncoder float keys (-0 finds 0)")
    keys = numpy_helper.from_array(np.array([0, 1, 2], np.int64), "keys")
    vals = numpy_helper.from_array(np.array([0.5, 1.5, 2.5]), "values")
    dflt = numpy_helper.from_array(np.array([-9.0]), "default")
    m = graph([ml_node("LabelEncoder", ["X"], ["Y"], keys_tensor=keys, values_tensor=vals, default_tensor=dflt)],
              [vi("X", TensorProto.INT64, [None])], [vi("Y", TensorProto.DOUBLE, [None])], ml_opset=4)
    f.add("label_encoder_v4_tensors_wine", m, [{"X": np.concatenate([yw[::20], [3]]).astype(np.int64)}],
          note="LabelEncoder opset 4: keys_tensor int64, values_tensor and default_tensor double")
    keys = numpy_helper.from_array(np.array([np.nan, 1.0, 5.1], np.float32), "keys")
    vals = numpy_helper.from_array(np.array(["missing", "one", "five point one"], dtype=object), "values")
    m = graph([ml_node("LabelEncoder", ["X"], ["Y"], keys_tensor=keys, values_tensor=vals, default_string="other")],
              [vi("X", TensorProto.FLOAT, [None])], [vi("Y", TensorProto.STRING, [None])], ml_opset=4)
    xs = Xi[::11, 0].copy()
    xs[1] = np.nan
    f.add("label_encoder_v4_nan_key_iris", m, [{"X": xs}], note="LabelEncoder opset 4: a NaN key matches NaN")
    m = graph([ml_node("LabelEncoder", ["X"], ["Y"], classes_strings=list(names), default_int64=-5)],
              [vi("X", TensorProto.STRING, [None])], [vi("Y", TensorProto.INT64, [None])], ml_opset=1)
    f.add("label_encoder_v1_classes_iris", m, [{"X": target}], note="LabelEncoder opset 1: classes_strings")

    m = single(ml_node("CategoryMapper", ["X"], ["Y"], cats_strings=cats, cats_int64s=[10, 20, 30]), TensorProto.STRING, [None, 1],
               [("Y", TensorProto.INT64, [None, 1])])
    f.add("category_mapper_strings_iris", m, [{"X": feeds}], note="CategoryMapper string to int64, default -1")
    m = single(ml_node("CategoryMapper", ["X"], ["Y"], cats_strings=list(names), cats_int64s=[0, 1, 2], default_string="other"),
               TensorProto.INT64, [None], [("Y", TensorProto.STRING, [None])])
    f.add("category_mapper_int64_wine", m, [{"X": np.concatenate([yw[::12], [9]]).astype(np.int64)}],
          note="CategoryMapper int64 to string, default_string")


def assembly(f, d):
    Xi, _ = d["iris"]
    Xw, _ = d["wine"]
    node = ml_node("FeatureVectorizer", ["a", "b", "c"], ["Y"], inputdimensions=[2, 4, 1])
    m = graph([node], [vi("a", TensorProto.FLOAT, ["N", 3]), vi("b", TensorProto.FLOAT, ["N", 2]),
                       vi("c", TensorProto.FLOAT, ["N", 1])], [vi("Y", TensorProto.FLOAT, ["N", 7])])
    feeds = lambda s: {"a": Xi[s, :3].copy(), "b": Xw[s, 3:5].copy(), "c": Xw[s, 12:13].copy()}
    f.add("feature_vectorizer_float", m, [feeds(slice(0, 1)), feeds(slice(0, 60))],
          note="FeatureVectorizer: cut from 3 to 2, padded from 2 to 4")
    node = ml_node("FeatureVectorizer", ["a", "b"], ["Y"], inputdimensions=[1, 3])
    m = graph([node], [vi("a", TensorProto.INT64, ["N", 2]), vi("b", TensorProto.INT64, ["N", 3])],
              [vi("Y", TensorProto.FLOAT, ["N", 4])])
    f.add("feature_vectorizer_int64_wine", m, [{"a": np.round(Xw[::10, :2]).astype(np.int64), "b": np.round(Xw[::10, 5:8]).astype(np.int64)}],
          note="FeatureVectorizer: int64 inputs")
    words = np.stack([iris_words(Xi), np.where(Xi[:, 0] > 5.8, "wide", "narrow"), np.where(Xi[:, 1] > 3, "tall", "flat"),
                      np.array(["iris"] * len(Xi), dtype=object)], 1).astype(object)
    idx = numpy_helper.from_array(np.array([3, 0, 0, 2], np.int64), "idx")
    m = graph([ml_node("ArrayFeatureExtractor", ["X", "idx"], ["Y"])], [vi("X", TensorProto.STRING, [None, 4])],
              [vi("Y", TensorProto.STRING, [None, 4])], [idx])
    f.add("array_feature_extractor_strings_iris", m, [{"X": words[:1]}, {"X": words[::8]}],
          note="ArrayFeatureExtractor on strings, repeated indices")
    m = graph([ml_node("ArrayFeatureExtractor", ["X", "I"], ["Y"])], [vi("X", TensorProto.FLOAT, [4]), vi("I", TensorProto.INT64, [None])],
              [vi("Y", TensorProto.FLOAT, [1, None])])
    f.add("array_feature_extractor_1d_iris", m, [{"X": Xi[7], "I": np.array([2, 1], np.int64)}], note="ArrayFeatureExtractor, 1-D input")
    m = graph([ml_node("ArrayFeatureExtractor", ["X", "I"], ["Y"])], [vi("X", TensorProto.INT64, [None, 13]), vi("I", TensorProto.INT64, [None])],
              [vi("Y", TensorProto.INT64, [None, None])])
    f.add("array_feature_extractor_int64_wine", m, [{"X": np.round(Xw[::9]).astype(np.int64), "I": np.array([12, 0, 5], np.int64)}],
          note="ArrayFeatureExtractor, int64 data, indices as an input")
    f.bad_input("array_feature_extractor_out_of_range", m, {"X": np.round(Xw[:2]).astype(np.int64), "I": np.array([13], np.int64)},
                "E_INPUT_VALUE", ["ArrayFeatureExtractor", "13"])
    m = single(ml_node("Binarizer", ["X"], ["Y"], threshold=1.0), TensorProto.FLOAT, [None, 4], [("Y", TensorProto.FLOAT, [None, 4])])
    nan = Xi[:2].copy()
    nan[1, 2] = np.nan
    f.bad_input("binarizer_nan", m, {"X": nan}, "E_INPUT_VALUE", ["Binarizer", "NaN"])
    m = graph([ml_node("FeatureVectorizer", ["a", "b"], ["Y"], inputdimensions=[4, 4])],
              [vi("a", TensorProto.FLOAT, ["n1", 4]), vi("b", TensorProto.FLOAT, ["n2", 4])], [vi("Y", TensorProto.FLOAT, [None, 8])])
    f.bad_input("feature_vectorizer_rows_differ", m, {"a": Xi[:3], "b": Xi[:2]}, "E_INPUT_SHAPE", ["FeatureVectorizer", "rows"],
                ort_must_fail=False)


def linear(f, d):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.svm import LinearSVC, LinearSVR
    from skl2onnx import to_onnx
    opset = {"": 17, ML: 3}
    Xi, yi = d["iris"]
    lr = LogisticRegression(max_iter=1000).fit(Xi, yi)
    f.add("logreg_iris", to_onnx(lr, Xi[:1], options={id(lr): {"zipmap": False}}, target_opset=opset),
          [{"X": Xi[:1]}, {"X": Xi[::3]}], note="LogisticRegression multiclass: LinearClassifier + Normalizer")
    f.add("zipmap_int64_iris", to_onnx(lr, Xi[:1], target_opset=opset), [{"X": Xi[:1]}, {"X": Xi[::4]}],
          note="LogisticRegression with ZipMap: a list of maps with int64 keys")
    outs = [(TensorProto.INT64, [None]), (TensorProto.FLOAT, [None, 3])]
    for pt in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
        m = isolate(to_onnx(lr, Xi[:1], target_opset=opset), "LinearClassifier", outs=outs,
                    edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        scale = 0.05 if pt == "PROBIT" else 1.0
        f.add(f"linear_classifier_{pt.lower()}_iris", m, [{"X": Xi[:1]}, {"X": Xi[::5] * scale}],
              note=f"LinearClassifier, 3 classes, post_transform {pt}")
    names = np.array(["setosa", "versicolor", "virginica"])
    lrs = LogisticRegression(max_iter=1000).fit(Xi, names[yi])
    m = isolate(to_onnx(lrs, Xi[:1], target_opset=opset), "LinearClassifier",
                outs=[(TensorProto.STRING, [None]), (TensorProto.FLOAT, [None, 3])])
    f.add("linear_classifier_strings_iris", m, [{"X": Xi[::6]}], note="LinearClassifier, string labels")
    Xb, yb = d["breast_cancer"]
    Xs = std(Xb)
    svc = LinearSVC(C=0.05, max_iter=5000).fit(Xs, yb)
    bin_outs = [(TensorProto.INT64, [None]), (TensorProto.FLOAT, [None, 2])]
    for pt in ["NONE", "LOGISTIC", "SOFTMAX"]:
        m = isolate(to_onnx(svc, Xs[:1], target_opset=opset), "LinearClassifier", outs=bin_outs,
                    edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"linear_classifier_binary_{pt.lower()}_breast_cancer", m, [{"X": Xs[:1]}, {"X": Xs[::7]}],
              note=f"LinearClassifier, one score and two labels, post_transform {pt}")
    w = [float(v) * 0.01 for v in svc.coef_[0]]
    for pt in ["NONE", "PROBIT", "LOGISTIC"]:
        for labels in [("classlabels_ints", [7]), ("classlabels_strings", ["yes"])]:
            elem = TensorProto.INT64 if labels[0] == "classlabels_ints" else TensorProto.STRING
            node = ml_node("LinearClassifier", ["X"], ["label", "scores"], coefficients=w, intercepts=[0.5], post_transform=pt,
                           **{labels[0]: labels[1]})
            m = single(node, TensorProto.FLOAT, [None, 30], [("label", elem, [None]), ("scores", TensorProto.FLOAT, [None, 1])])
            kind = "ints" if elem == TensorProto.INT64 else "strings"
            f.add(f"linear_classifier_one_label_{kind}_{pt.lower()}_breast_cancer", m, [{"X": Xs[::9]}],
                  note=f"LinearClassifier, one score and one label ({kind}): labels 1/0, post_transform {pt}")
    m = isolate(to_onnx(lr, Xi[:1], target_opset=opset), "LinearClassifier", outs=outs)
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    f.add("linear_classifier_int64_input_iris", m, [{"X": np.round(Xi[::8]).astype(np.int64)}], note="LinearClassifier, int64 input")

    Xd, yd = d["diabetes"]
    ridge = LinearRegression().fit(Xd, yd)
    f.add("linear_regressor_diabetes", to_onnx(ridge, Xd[:1], target_opset=opset), [{"X": Xd[:1]}, {"X": Xd[::5]}],
          rtol=1e-4, atol=1e-3, note="LinearRegression: LinearRegressor")
    two = np.stack([(yd - yd.mean()) / yd.std(), Xd[:, 2] * 10], 1)
    lin2 = LinearRegression().fit(Xd, two)
    for pt in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
        m = isolate(to_onnx(lin2, Xd[:1], target_opset=opset), "LinearRegressor", outs=[(TensorProto.FLOAT, [None, 2])],
                    edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"linear_regressor_two_targets_{pt.lower()}_diabetes", m, [{"X": Xd[:1] * 0.1}, {"X": Xd[::6] * 0.1}],
              rtol=1e-4, atol=1e-4, note=f"LinearRegressor, 2 targets, post_transform {pt}")
    for pt in ["LOGISTIC", "PROBIT"]:
        node = ml_node("LinearRegressor", ["X"], ["Y"], coefficients=[float(v) for v in ridge.coef_ * 1e-4],
                       intercepts=[0.4], targets=1, post_transform=pt)
        m = single(node, TensorProto.FLOAT, [None, 10], [("Y", TensorProto.FLOAT, [None, 1])])
        f.add(f"linear_regressor_one_target_{pt.lower()}_diabetes", m, [{"X": Xd[::7]}],
              note=f"LinearRegressor, 1 target, post_transform {pt} (only PROBIT applies)")
    svr = LinearSVR(C=1.0, max_iter=5000, random_state=0).fit(std(Xd), (yd - yd.mean()) / yd.std())
    node = ml_node("SVMRegressor", ["X"], ["Y"], coefficients=[float(v) for v in svr.coef_], rho=[float(svr.intercept_[0])],
                   n_supports=0, kernel_type="RBF", kernel_params=[0.5, 0.0, 3.0])
    m = single(node, TensorProto.FLOAT, [None, 10], [("Y", TensorProto.FLOAT, [None, 1])])
    f.add("svm_regressor_liblinear_diabetes", m, [{"X": std(Xd)[::8]}], note="SVMRegressor without support vectors: linear")
    m = single(ml_node("LinearClassifier", ["X"], ["label", "scores"], coefficients=[float(v) for v in lr.coef_.ravel()],
                       intercepts=[float(v) for v in lr.intercept_], classlabels_ints=[0, 1, 2]),
               TensorProto.FLOAT, [None, None], [("label", TensorProto.INT64, [None]), ("scores", TensorProto.FLOAT, [None, 3])])
    f.bad_input("linear_classifier_wrong_feature_count", m, {"X": Xi[:2, :3]}, "E_INPUT_SHAPE", ["LinearClassifier", "4 features"],
                ort_must_fail=False)
    return lr


def svms(f, d):
    from sklearn.svm import SVC, SVR, LinearSVC, OneClassSVM
    from skl2onnx import to_onnx
    opset = {"": 17, ML: 3}
    Xi, yi = d["iris"]
    Xs = std(Xi)
    for kernel in ["linear", "poly", "rbf", "sigmoid"]:
        for proba in [False, True]:
            svc = SVC(kernel=kernel, probability=proba, degree=3, coef0=0.5, gamma=0.3, random_state=0).fit(Xs, yi)
            width = 3
            m = isolate(to_onnx(svc, Xs[:1], target_opset=opset, options={id(svc): {"zipmap": False}}), "SVMClassifier",
                        outs=[(TensorProto.INT64, [None]), (TensorProto.FLOAT, [None, width])])
            tag = "_proba" if proba else ""
            f.add(f"svc_{kernel}{tag}_iris", m, [{"X": Xs[:1]}, {"X": Xs[::3]}], rtol=1e-3, atol=1e-4,
                  note=f"SVMClassifier, {kernel} kernel, 3 classes, {'probabilities' if proba else 'pairwise scores and votes'}")
    svc = SVC(kernel="rbf", gamma=0.3, random_state=0).fit(Xs, yi)
    for pt in ["SOFTMAX", "LOGISTIC"]:
        m = isolate(to_onnx(svc, Xs[:1], target_opset=opset, options={id(svc): {"zipmap": False}}), "SVMClassifier",
                    outs=[(TensorProto.INT64, [None]), (TensorProto.FLOAT, [None, 3])], edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
        f.add(f"svc_rbf_{pt.lower()}_iris", m, [{"X": Xs[::4]}], rtol=1e-3, atol=1e-4, note=f"SVMClassifier, pairwise scores, {pt}")
    Xb, yb = d["breast_cancer"]
    Bs = std(Xb)[::2]
    yb = yb[::2]
    for proba in [False, True]:
        svc = SVC(kernel="rbf", gamma=0.02, probability=proba, random_state=0).fit(Bs, yb)
        for pt in ["NONE", "LOGISTIC"]:
            m = isolate(to_onnx(svc, Bs[:1], target_opset=opset, options={id(svc): {"zipmap": False}}), "SVMClassifier",
                        outs=[(TensorProto.INT64, [None]), (TensorProto.FLOAT, [None, 2])], edit=lambda n, pt=pt: set_attr(n, "post_transform", pt))
            tag = "_proba" if proba else ""
            f.add(f"svc_binary{tag}_{pt.lower()}_breast_cancer", m, [{"X": Bs[:1]}, {"X": Bs[::6]}], rtol=1e-3, atol=1e-4,
                  note=f"SVMClassifier, 2 classes, {'probabilities' if proba else 'one decision value'}, {pt}")
    Xw, yw = d["wine"]
    Ws = std(Xw)
    names = np.array(["barolo", "grignolino", "barbera"])
    svc = SVC(kernel="rbf", gamma=0.05, probability=True, random_state=0).fit(Ws, names[yw])
    onx = to_onnx(svc, Ws[:1], target_opset=opset, options={id(svc): {"zipmap": False}})
    m = isolate(onx, "SVMClassifier", outs=[(TensorProto.STRING, [None]), (TensorProto.FLOAT, [None, 3])])
    f.add("svc_strings_proba_wine", m, [{"X": Ws[:1]}, {"X": Ws[::5]}], rtol=1e-3, atol=1e-4, note="SVMClassifier, string labels, probabilities")
    f.add("zipmap_strings_wine", to_onnx(svc, Ws[:1], target_opset=opset), [{"X": Ws[::7]}], rtol=1e-3, atol=1e-4,
          note="SVC with ZipMap: a list of maps with string keys")
    Xg, yg = d["digits"]
    sel = slice(0, 300)
    svc = SVC(kernel="rbf", gamma=0.001, probability=True, random_state=0).fit(Xg[sel], yg[sel])
    m = isolate(to_onnx(svc, Xg[:1], target_opset=opset, options={id(svc): {"zipmap": False}}), "SVMClassifier",
                outs=[(TensorProto.INT64, [None]), (TensorProto.FLOAT, [None, 10])])
    f.add("svc_rbf_proba_digits", m, [{"X": Xg[1000:1001]}, {"X": Xg[1000:1100]}], rtol=1e-3, atol=1e-3,
          note="SVMClassifier, 10 classes, probabilities coupled from 45 pairs")

    lin = LinearSVC(C=0.1, max_iter=5000).fit(Xs, yi)
    node = ml_node("SVMClassifier", ["X"], ["label", "scores"], coefficients=[float(v) for v in lin.coef_.ravel()],
                   rho=[float(lin.intercept_[0])], classlabels_ints=[0, 1, 2], kernel_type="LINEAR",
                   kernel_params=[0.0, 0.0, 0.0])
    m = single(node, TensorProto.FLOAT, [None, 4], [("label", TensorProto.INT64, [None]), ("scores", TensorProto.FLOAT, [None, 3])])
    f.add("svm_classifier_liblinear_iris", m, [{"X": Xs[::5]}], note="SVMClassifier without support vectors: one score per class")
    for name, coef in [("mixed", lin.coef_[:2].ravel()), ("positive", np.abs(lin.coef_[:2].ravel()) * 0.1)]:
        for pt in ["NONE", "LOGISTIC"]:
            node = ml_node("SVMClassifier", ["X"], ["label", "scores"], coefficients=[float(v) for v in coef], rho=[0.1],
                           classlabels_strings=["no", "yes"], post_transform=pt, kernel_params=[0.0, 0.0, 0.0])
            m = single(node, TensorProto.FLOAT, [None, 4], [("label", TensorProto.STRING, [None]), ("scores", TensorProto.FLOAT, [None, 2])])
            f.add(f"svm_classifier_liblinear_binary_{name}_{pt.lower()}_iris", m, [{"X": Xs[::6]}],
                  note=f"SVMClassifier liblinear, 2 classes, {name} weights, {pt}")

    Xd, yd = d["diabetes"]
    Ds, t = std(Xd)[::2], ((yd - yd.mean()) / yd.std())[::2]
    for kernel in ["linear", "poly", "rbf", "sigmoid"]:
        svr = SVR(kernel=kernel, gamma=0.1, coef0=0.5, degree=2, C=1.0).fit(Ds, t)
        m = isolate(to_onnx(svr, Ds[:1], target_opset=opset), "SVMRegressor", outs=[(TensorProto.FLOAT, [None, 1])])
        f.add(f"svr_{kernel}_diabetes", m, [{"X": Ds[:1]}, {"X": Ds[::3]}], rtol=1e-3, atol=1e-4, note=f"SVMRegressor, {kernel} kernel")
    oc = OneClassSVM(gamma=0.3, nu=0.2).fit(Xs)
    m = isolate(to_onnx(oc, Xs[:1], target_opset=opset), "SVMRegressor", outs=[(TensorProto.FLOAT, [None, 1])],
                edit=lambda n: set_attr(n, "one_class", 1))
    f.add("svm_regressor_one_class_iris", m, [{"X": Xs[::2] * 1.5}], note="SVMRegressor one_class=1: +1 or -1")
    m = isolate(to_onnx(oc, Xs[:1], target_opset=opset), "SVMRegressor", outs=[(TensorProto.FLOAT, [None, 1])])
    f.add("svm_regressor_one_class_scores_iris", m, [{"X": Xs[::2] * 1.5}], rtol=1e-3, atol=1e-4,
          note="OneClassSVM decision values (one_class=0)")
    return svc


def bad_models(f):
    """Malformed attributes: each model names what load must name."""
    fl, s = TensorProto.FLOAT, TensorProto.STRING
    x4 = [vi("X", fl, [None, 4])]

    def one(name, op, attrs, contains, x=x4, outs=(("Y", fl, [None, 4]),), ml_opset=3):
        m = graph([ml_node(op, ["X"], [o[0] for o in outs], **attrs)], x, [vi(*o) for o in outs], ml_opset=ml_opset, check=False)
        f.bad_model(name, m, contains)

    cls = (("label", TensorProto.INT64, [None]), ("scores", fl, [None, 3]))
    svm = dict(classlabels_ints=[0, 1, 2], vectors_per_class=[1, 1, 1], support_vectors=[0.0] * 12,
               coefficients=[1.0] * 6, rho=[0.0] * 3, kernel_type="RBF", kernel_params=[0.1, 0.0, 3.0])
    one("scaler_lengths", "Scaler", dict(offset=[0.0, 1.0], scale=[1.0]), ["Scaler", "scaler_0", "offset"])
    one("scaler_no_scale", "Scaler", dict(offset=[0.0]), ["Scaler", "scale"])
    one("scaler_width", "Scaler", dict(offset=[0.0] * 3, scale=[1.0] * 3), ["Scaler", "3 values", "4 features"])
    one("imputer_both", "Imputer", dict(imputed_value_floats=[0.0], imputed_value_int64s=[0]), ["Imputer", "imputed_value_floats"])
    one("imputer_type", "Imputer", dict(imputed_value_int64s=[0]), ["Imputer", "imputed_value_int64s", "int64"])
    one("normalizer_norm", "Normalizer", dict(norm="L3"), ["Normalizer", "norm", "L3"])
    one("onehot_both", "OneHotEncoder", dict(cats_strings=["a"], cats_int64s=[1]), ["OneHotEncoder", "cats_int64s"],
        outs=(("Y", fl, [None, 4, 1]),))
    one("onehot_type", "OneHotEncoder", dict(cats_strings=["a"]), ["OneHotEncoder", "cats_strings", "string"],
        outs=(("Y", fl, [None, 4, 1]),))
    one("onehot_zeros", "OneHotEncoder", dict(cats_int64s=[1], zeros=2), ["OneHotEncoder", "zeros"], outs=(("Y", fl, [None, 4, 1]),))
    one("label_encoder_lengths", "LabelEncoder", dict(keys_floats=[1.0, 2.0], values_int64s=[1]), ["LabelEncoder", "values"],
        outs=(("Y", TensorProto.INT64, [None, 4]),), ml_opset=2)
    one("label_encoder_two_key_lists", "LabelEncoder", dict(keys_floats=[1.0], keys_int64s=[1], values_int64s=[1]),
        ["LabelEncoder", "keys_"], outs=(("Y", TensorProto.INT64, [None, 4]),), ml_opset=2)
    one("label_encoder_key_type", "LabelEncoder", dict(keys_strings=["a"], values_int64s=[1]), ["LabelEncoder", "input"],
        outs=(("Y", TensorProto.INT64, [None, 4]),), ml_opset=2)
    one("category_mapper_lengths", "CategoryMapper", dict(cats_strings=["a", "b"], cats_int64s=[1]), ["CategoryMapper", "cats_int64s"],
        x=[vi("X", s, [None])], outs=(("Y", TensorProto.INT64, [None]),))
    one("linear_classifier_coefficients", "LinearClassifier",
        dict(classlabels_ints=[0, 1, 2], coefficients=[1.0] * 10, intercepts=[0.0] * 3), ["LinearClassifier", "coefficients"], outs=cls)
    one("linear_classifier_post_transform", "LinearClassifier",
        dict(classlabels_ints=[0, 1, 2], coefficients=[1.0] * 12, intercepts=[0.0] * 3, post_transform="TANH"),
        ["LinearClassifier", "post_transform", "TANH"], outs=cls)
    one("linear_classifier_labels", "LinearClassifier", dict(coefficients=[1.0] * 12, intercepts=[0.0] * 3),
        ["LinearClassifier", "classlabels_ints"], outs=cls)
    one("linear_classifier_features", "LinearClassifier",
        dict(classlabels_ints=[0, 1, 2], coefficients=[1.0] * 15, intercepts=[0.0] * 3), ["LinearClassifier", "5 features", "4"], outs=cls)
    one("linear_regressor_intercepts", "LinearRegressor", dict(coefficients=[1.0] * 8, intercepts=[0.0] * 3, targets=2),
        ["LinearRegressor", "intercepts"], outs=(("Y", fl, [None, 2]),))
    one("linear_regressor_targets", "LinearRegressor", dict(coefficients=[1.0] * 8, targets=0), ["LinearRegressor", "targets"],
        outs=(("Y", fl, [None, 1]),))
    one("svm_kernel", "SVMClassifier", {**svm, "kernel_type": "CUBIC"}, ["SVMClassifier", "kernel_type", "CUBIC"], outs=cls)
    one("svm_kernel_params", "SVMClassifier", {**svm, "kernel_params": [0.1, 0.0]}, ["SVMClassifier", "kernel_params"], outs=cls)
    one("svm_vectors_per_class", "SVMClassifier", {**svm, "vectors_per_class": [1, 2]}, ["SVMClassifier", "vectors_per_class"], outs=cls)
    one("svm_coefficients", "SVMClassifier", {**svm, "coefficients": [1.0] * 5}, ["SVMClassifier", "coefficients"], outs=cls)
    one("svm_rho", "SVMClassifier", {**svm, "rho": [0.0]}, ["SVMClassifier", "rho"], outs=cls)
    one("svm_prob_lengths", "SVMClassifier", {**svm, "prob_a": [1.0] * 3, "prob_b": [1.0]}, ["SVMClassifier", "prob_b"], outs=cls)
    one("svm_support_vectors", "SVMClassifier", {**svm, "support_vectors": [0.0] * 11}, ["SVMClassifier", "support_vectors"], outs=cls)
    one("svm_post_transform", "SVMClassifier", {**svm, "post_transform": "SIGMOID"}, ["SVMClassifier", "post_transform"], outs=cls)
    one("svm_regressor_coefficients", "SVMRegressor",
        dict(n_supports=2, support_vectors=[0.0] * 8, coefficients=[1.0] * 3, rho=[0.0]), ["SVMRegressor", "coefficients"],
        outs=(("Y", fl, [None, 1]),))
    one("svm_regressor_one_class", "SVMRegressor", dict(coefficients=[1.0] * 4, rho=[0.0], one_class=3), ["SVMRegressor", "one_class"],
        outs=(("Y", fl, [None, 1]),))
    one("zipmap_no_labels", "ZipMap", {}, ["ZipMap", "classlabels_int64s"], outs=(("Y", fl, [None, 4]),))
    one("zipmap_width", "ZipMap", dict(classlabels_int64s=[0, 1, 2]), ["ZipMap", "4 probabilities", "3 labels"],
        outs=(("Y", fl, [None, 4]),))
    m = graph([ml_node("FeatureVectorizer", ["X", "X"], ["Y"], inputdimensions=[4])], x4, [vi("Y", fl, [None, 4])], check=False)
    f.bad_model("feature_vectorizer_dimensions", m, ["FeatureVectorizer", "inputdimensions"])
    # Valid models this runtime cannot take: a map input (as DictVectorizer reads) and a
    # sequence input, beside a tensor path; the API's inputs are tensors.
    for kind, t in (("map", helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(fl, None))),
                    ("sequence", helper.make_sequence_type_proto(helper.make_tensor_type_proto(fl, None)))):
        m = graph([helper.make_node("Identity", ["X"], ["Y"])], [*x4, helper.make_value_info("M", t)],
                  [vi("Y", fl, [None, 4])])
        f.bad_model(f"{kind}_input", m, ["input 'M'", kind, "tensors"], code="E_UNSUPPORTED_OP")


def holdouts(out, d):
    """Labelled tables for `edgeinfer compare` (tests/js/compare.test.mjs): the samples the
    iris and diabetes models above were fitted on, features then the label, as CSV."""
    for name, columns, label in [
        ("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width"], "species"),
        ("diabetes", ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"], "progression"),
    ]:
        X, y = d[name]
        lines = [",".join([*columns, label])]
        lines += [",".join([*(f"{v:.9g}" for v in row), f"{t:g}"]) for row, t in zip(X, y)]
        with open(os.path.join(out, f"{name}_holdout.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")


def main():
    f = Fixtures.fresh("ml")
    rng = np.random.default_rng(20261125)
    d = data()
    preprocessing(f, d, rng)
    categorical(f, d)
    assembly(f, d)
    linear(f, d)
    svms(f, d)
    bad_models(f)
    f.finish()
    holdouts(f.out, d)
    print(f"{f.count} cases, {len(f.bad_models)} malformed models, {len(f.bad_inputs)} refused inputs in {f.out}")


if __name__ == "__main__":
    main()
