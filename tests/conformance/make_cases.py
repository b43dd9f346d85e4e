"""Writes the ONNX backend node test cases of the installed onnx package to a directory.

The cases are made by the package's own generators (`collect_testcases`), so nothing large is
committed: one directory per case with `model.onnx`, `input_N.pb` and `output_N.pb`, and a
`cases.json` index naming each case's operator and tolerances. Cases whose graph inputs or
outputs are sequences, maps or optionals are left out: edgeinfer's API takes and returns
tensors only, and the count we compare against onnxruntime-web is of tensor cases.
"""

import json
import os
import re
import shutil
import sys

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
        inputs, outputs = case.data_sets[0]
        for prefix, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for j, (value, info) in enumerate(zip(values, infos, strict=True)):
                with open(os.path.join(case_dir, f"{prefix}_{j}.pb"), "wb") as f:
                    f.write(proto(value, info.name).SerializeToString())
        types = {v.type.tensor_type.elem_type for v in list(graph.input) + list(graph.output)}
        exotic = sorted(onnx.TensorProto.DataType.Name(t) for t in types - JS_TYPES)
        index.append({"name": case.name, "op": op, "rtol": case.rtol, "atol": case.atol, "exotic": exotic})
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump({"onnx": onnx.__version__, "cases": index}, f, indent=0)
    print(f"onnx {onnx.__version__}: {len(index)} tensor cases written to {out_dir}, {skipped} others left out")


if __name__ == "__main__":
    main(sys.argv[1])
