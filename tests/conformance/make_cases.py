"""Writes the ONNX backend node test cases of the installed onnx package to a directory.

The cases are made by the package's own generators (`collect_testcases`), so nothing large is
committed: one directory per case with `model.onnx`, `input_N.pb` and `output_N.pb`, and a
`cases.json` index naming each case's operator and tolerances. A case with JS element types
also gets a `case.json`, the same tensors in a form JS reads without protobuf (for
bench/conformance.mjs). Cases whose graph inputs or outputs are sequences, maps or optionals
are left out: edgeinfer's API takes and returns tensors only, and the count we compare
against onnxruntime-web is of tensor cases.
"""

import base64
import json
import os
import re
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases


# Element types a JS typed array (or array of strings) can hold: float, uint8, int8, uint16,
# int16, int32, int64, string, bool, float16, double, uint32, uint64. The rest (bfloat16,
# float8, int4, ...) are counted apart.
JS_TYPES = set(range(1, 14))


def is_tensor(value_info):
    return value_info.type.HasField("tensor_type")


def proto(value, name):
    if isinstance(value, onnx.TensorProto):
        value = onnx.TensorProto.FromString(value.SerializeToString())
        value.name = name
        return value
    return numpy_helper.from_array(value, name)


# case.json's element type names: onnxruntime-web's (and edgeinfer's) dtype strings.
JS_NAMES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}


def js_tensor(tensor):
    """A TensorProto as {name, dtype, shape, data}: data is base64 of the little-endian values
    (float16 as its uint16 bit patterns, bool as uint8), or for strings an array of strings.
    Read back from the proto written to the .pb file, so both hold the same values."""
    array = numpy_helper.to_array(tensor)
    dtype = JS_NAMES[tensor.data_type]
    out = {"name": tensor.name, "dtype": dtype, "shape": list(array.shape)}
    if dtype == "string":
        out["data"] = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.ravel()]
        return out
    if dtype == "float16":
        array = array.view(np.uint16)
    elif dtype == "bool":
        array = array.astype(np.uint8)
    out["data"] = base64.b64encode(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()).decode()
    return out


def main(out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    index = []
    ops = {}
    skipped = 0
    for case in collect_testcases():
        graph = case.model.graph
        base = re.sub(r"_expanded(_ver\d+)?$", "", case.name)
        op = ops.setdefault(base, graph.node[0].op_type if len(graph.node) == 1 else base)
        if not all(is_tensor(v) for v in list(graph.input) + list(graph.output)):
            skipped += 1
            continue
        case_dir = os.path.join(out_dir, case.name)
        os.makedirs(case_dir)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        types = {v.type.tensor_type.elem_type for v in list(graph.input) + list(graph.output)}
        exotic = sorted(onnx.TensorProto.DataType.Name(t) for t in types - JS_TYPES)
        inputs, outputs = case.data_sets[0]
        tensors = {}
        for prefix, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            tensors[f"{prefix}s"] = []
            for j, (value, info) in enumerate(zip(values, infos, strict=True)):
                tensor = proto(value, info.name)
                with open(os.path.join(case_dir, f"{prefix}_{j}.pb"), "wb") as f:
                    f.write(tensor.SerializeToString())
                if not exotic:
                    tensors[f"{prefix}s"].append(js_tensor(tensor))
        if not exotic:
            with open(os.path.join(case_dir, "case.json"), "w") as f:
                json.dump(tensors, f)
        index.append({"name": case.name, "op": op, "rtol": case.rtol, "atol": case.atol, "exotic": exotic})
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump({"onnx": onnx.__version__, "cases": index}, f, indent=0)
    print(f"onnx {onnx.__version__}: {len(index)} tensor cases written to {out_dir}, {skipped} others left out")


if __name__ == "__main__":
    main(sys.argv[1])
