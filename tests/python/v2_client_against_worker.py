"""A standard Open Inference Protocol client (Triton's tritonclient.http), unchanged, against
the edgeinfer Worker. Run by tests/js/worker.test.mjs with the server's address and a key:
EDGEINFER_V2_URL=127.0.0.1:PORT EDGEINFER_V2_KEY=... python -m unittest tests/python/v2_client_against_worker.py
Not named test_*: it needs that Worker, so the unittest discovery in scripts/test.sh leaves it out.
"""
import os
import unittest

import numpy as np
import onnxruntime as ort
import tritonclient.http as http
from tritonclient.utils import InferenceServerException

URL = os.environ["EDGEINFER_V2_URL"]
# tritonclient adds keys to the headers dict it is given, so each call gets a copy.
HEADERS = {"Authorization": f"Bearer {os.environ['EDGEINFER_V2_KEY']}"}
CORPUS = os.environ["EDGEINFER_CORPUS"]


def reference(model, feeds):
    session = ort.InferenceSession(os.path.join(CORPUS, f"{model}.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


class V2ClientTest(unittest.TestCase):
    def setUp(self):
        self.client = http.InferenceServerClient(url=URL)

    def test_health_and_metadata(self):
        self.assertTrue(self.client.is_server_live())
        self.assertTrue(self.client.is_server_ready())
        self.assertTrue(self.client.is_model_ready("mlp_tabular", headers=dict(HEADERS)))
        meta = self.client.get_model_metadata("mlp_tabular", headers=dict(HEADERS))
        self.assertEqual(meta["inputs"], [{"name": "x", "datatype": "FP32", "shape": [-1, 32]}])
        self.assertEqual(self.client.get_server_metadata()["name"], "edgeinfer")

    def infer(self, model, feeds, binary, outputs=None):
        inputs = []
        for name, array in feeds.items():
            datatype = {"float32": "FP32", "int64": "INT64", "bool": "BOOL", "float16": "FP16"}[array.dtype.name]
            i = http.InferInput(name, list(array.shape), datatype)
            i.set_data_from_numpy(array, binary_data=binary)
            inputs.append(i)
        requested = [http.InferRequestedOutput(o, binary_data=binary) for o in outputs] if outputs else None
        return self.client.infer(model, inputs, outputs=requested, headers=dict(HEADERS), request_id="py-1")

    def test_infer_json_and_binary_match_onnxruntime(self):
        rng = np.random.default_rng(3)
        cases = [
            ("mlp_tabular", {"x": rng.standard_normal((5, 32)).astype(np.float32)}, ["y"]),
            ("recommender_topk", {"liked": np.array([[3, 17, 42], [1, 2, 3]], np.int64)}, ["top_scores", "top_items"]),
            ("mixed_types", {"amount": rng.uniform(0, 60, (2, 4)).astype(np.float32),
                             "count": rng.integers(0, 5, (2, 4)).astype(np.int64),
                             "flag": rng.integers(0, 2, (2, 4)).astype(bool)}, ["over", "masked_d", "best"]),
            ("half_precision", {"x": rng.standard_normal((3, 16)).astype(np.float16)}, ["y"]),
        ]
        for model, feeds, outputs in cases:
            expected = reference(model, feeds)
            for binary in (False, True):
                for requested in (None, outputs):
                    with self.subTest(model=model, binary=binary, requested=requested):
                        result = self.infer(model, feeds, binary, requested)
                        self.assertEqual(result.get_response()["id"], "py-1")
                        for name in outputs:
                            got = result.as_numpy(name)
                            self.assertEqual(got.shape, expected[name].shape)
                            if expected[name].dtype == np.float16:
                                np.testing.assert_allclose(got.astype(np.float32), expected[name].astype(np.float32), rtol=1e-2, atol=1e-2)
                            elif expected[name].dtype.kind == "f":
                                np.testing.assert_allclose(got, expected[name], rtol=1e-4, atol=1e-5)
                            else:
                                np.testing.assert_array_equal(got, expected[name])

    def test_errors_reach_the_client(self):
        i = http.InferInput("x", [1, 16], "FP32")
        i.set_data_from_numpy(np.zeros((1, 16), np.float32))
        with self.assertRaises(InferenceServerException) as e:
            self.client.infer("mlp_tabular", [i], headers=dict(HEADERS))
        self.assertIn("dimension 1 is 16, expected 32", str(e.exception))
        with self.assertRaises(InferenceServerException) as e:
            self.client.infer("mlp_tabular", [i])  # no credentials
        self.assertEqual(e.exception.status(), "401")
        self.assertIn("missing credentials", str(e.exception))


if __name__ == "__main__":
    unittest.main()
