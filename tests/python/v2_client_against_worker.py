"""A standard Open Inference Protocol client (Triton's tritonclient.http), unchanged, against
the edgeinfer Worker, and its /metrics read by Prometheus' own Python parser. Run by
tests/js/worker.test.mjs with the server's address and keys:
EDGEINFER_V2_URL=127.0.0.1:PORT EDGEINFER_V2_KEY=... EDGEINFER_V2_METRICS_KEY=... \
  python -m unittest tests/python/v2_client_against_worker.py
Not named test_*: it needs that Worker, so the unittest discovery in scripts/test.sh leaves it out.
"""
import os
import time
import unittest
import urllib.request

import numpy as np
import onnxruntime as ort
import tritonclient.http as http
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

URL = os.environ["EDGEINFER_V2_URL"]
# tritonclient adds keys to the headers dict it is given, so each call gets a copy.
HEADERS = {"Authorization": f"Bearer {os.environ['EDGEINFER_V2_KEY']}"}
METRICS_HEADERS = {"Authorization": f"Bearer {os.environ['EDGEINFER_V2_METRICS_KEY']}"}
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

    def test_inference_statistics_count_the_inferences(self):
        def stats():
            s = self.client.get_inference_statistics(model_name="mlp_tabular", headers=dict(METRICS_HEADERS))
            self.assertEqual(len(s["model_stats"]), 1, "mlp_tabular has one version")
            return s["model_stats"][0]

        before = stats()
        x = np.ones((4, 32), np.float32)
        for binary in (False, True, False):
            self.infer("mlp_tabular", {"x": x}, binary)
        after = stats()
        self.assertEqual((after["name"], after["version"]), ("mlp_tabular", "1"))
        self.assertEqual(after["execution_count"] - before["execution_count"], 3)
        self.assertEqual(after["inference_count"] - before["inference_count"], 3 * 4, "rows, as Triton counts them")
        success, infer = after["inference_stats"]["success"], after["inference_stats"]["compute_infer"]
        self.assertEqual(success["count"] - before["inference_stats"]["success"]["count"], 3)
        self.assertEqual(infer, success)
        self.assertEqual(after["inference_stats"]["queue"], {"count": 0, "ns": 0})
        now_ms = time.time() * 1000
        self.assertTrue(now_ms - 60_000 < after["last_inference"] <= now_ms + 1000, after["last_inference"])
        everything = self.client.get_inference_statistics(headers=dict(METRICS_HEADERS))["model_stats"]
        self.assertIn(after["name"], [m["name"] for m in everything])
        with self.assertRaises(InferenceServerException) as e:
            self.client.get_inference_statistics(model_name="mlp_tabular", headers=dict(HEADERS))
        self.assertEqual(e.exception.status(), "403", "statistics need the metrics scope")

    def test_metrics_parse_and_the_rows_counter_rises(self):
        def scrape():
            request = urllib.request.Request(f"http://{URL}/metrics", headers=METRICS_HEADERS)
            with urllib.request.urlopen(request) as r:
                return list(text_string_to_metric_families(r.read().decode()))

        def rows(families):
            [value] = [s.value for f in families if f.type == "counter" for s in f.samples
                       if s.name == "edgeinfer_predict_rows_total" and s.labels["model"] == "mlp_tabular"]
            return value

        before = scrape()
        self.infer("mlp_tabular", {"x": np.zeros((7, 32), np.float32)}, binary=True)
        after = scrape()
        self.assertEqual(rows(after) - rows(before), 7)
        isolates = {s.labels.get("isolate") for f in after for s in f.samples}
        self.assertEqual(len(isolates), 1, isolates)
        self.assertRegex(isolates.pop() or "", "^[0-9a-f]{12}$")
        self.assertEqual([f.name for f in after if "per_second" in f.name], [], "rates are Prometheus' to take")

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
