#!/usr/bin/env python3
"""Jina compatibility checks of a Python Executor behind a Flow: the Jina-shaped peer of
jina_compat_test.py talks to a `shoal flow` gateway whose Executor (compat_executor.py, 2
replicas) is Python: Jina's Call stream, endpoint discovery as Jina's gateway reads it, and
Jina's error shape."""

import os
import tempfile
import unittest

from google.protobuf import empty_pb2, json_format  # noqa: E402

from jina_compat_test import (SHOAL, ShoalProcess, data_request, embedding_of,  # noqa: E402
                              jina_gateway_view, text_doc, vectors)

import jina_pb2  # noqa: E402
import jina_pb2_grpc  # noqa: E402

EXECUTOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compat_executor.py")


class PythonFlow(ShoalProcess):
    """A `shoal flow` process on 127.0.0.1 serving the Python Executor `Shout` with 2 replicas,
    ended by pid."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="compat-py-")
        yaml = os.path.join(self.dir.name, "flow.yml")
        with open(yaml, "w") as f:
            f.write("jtype: Flow\nversion: '1'\nwith:\n  name: compat\n  host: 127.0.0.1\n"
                    f"executors:\n  - name: shout\n    uses: {EXECUTOR}:Shout\n"
                    "    replicas: 2\n")
        try:
            super().__init__([SHOAL, "flow", "--uses", yaml, "--port", "0"], "flow",
                             stop_timeout=30)
        except Exception:
            self.dir.cleanup()
            raise

    def stop(self):
        try:
            return super().stop()
        finally:
            self.dir.cleanup()


class PythonExecutorFlowCompatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.flow = PythonFlow()

    @classmethod
    def tearDownClass(cls):
        code = cls.flow.stop()
        if code != 0:
            raise AssertionError(f"the flow exited with {code} on SIGTERM")

    def test_call_stream_answers_with_the_executors_edits(self):
        stub = jina_pb2_grpc.JinaRPCStub(self.flow.channel)
        sent = {}
        requests = []
        for i, v in enumerate(vectors(20)):
            docs = [text_doc(f"hello {i}", v), text_doc(f"again {i}", vectors(1, offset=i)[0])]
            request = data_request("/shout", docs, {"suffix": "!"})
            requests.append(request)
            sent[request.header.request_id] = docs
        responses = list(stub.Call(iter(requests), timeout=60))
        self.assertEqual(len(responses), 20)
        served_by = set()
        for response in responses:
            self.assertEqual(response.header.status.code, jina_pb2.StatusProto.SUCCESS,
                             response.header.status)
            want = sent[response.header.request_id]
            got = response.data.docs.docs
            self.assertEqual(len(got), len(want))
            for g, w in zip(got, want):
                self.assertEqual(g.data["id"].text, w.data["id"].text)
                self.assertEqual(g.data["id"].type, "id")
                self.assertEqual(g.data["text"].text, w.data["text"].text.upper() + "!")
                values, shape, dtype = embedding_of(w)
                self.assertEqual(embedding_of(g), ([2 * x for x in values], shape, dtype))
                # Written by Python as docarray writes an AnyEmbedding field.
                self.assertIn(g.data["embedding"].type, ("ndarray", "ndarray_embedding"))
                self.assertFalse(g.data["url"].HasField("text"))
                served_by.add(g.data["served_by"].text)
            results = json_format.MessageToDict(response.parameters)["__results__"]
            self.assertEqual([r["shouted"] for r in results.values()], [2])
        self.assertEqual(served_by, {"shout/rep-0", "shout/rep-1"})

    def test_single_data_request_through_the_gateway(self):
        stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(self.flow.channel)
        request = data_request("/shout", [text_doc("single", vectors(1)[0])])
        response = stub.process_single_data(request, timeout=30)
        self.assertEqual(response.header.status.code, jina_pb2.StatusProto.SUCCESS)
        self.assertEqual(response.header.request_id, request.header.request_id)
        self.assertEqual(response.data.docs.docs[0].data["text"].text, "SINGLE")

    def test_jina_gateway_reads_the_discovered_python_endpoints(self):
        stub = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(self.flow.channel)
        endpoints = stub.endpoint_discovery(empty_pb2.Empty(), timeout=10)
        self.assertIn("/shout", endpoints.endpoints)
        self.assertIn("/fail", endpoints.endpoints)
        view = jina_gateway_view(self, endpoints)
        self.assertEqual(set(view), set(endpoints.endpoints))

    def test_a_python_exception_answers_jinas_error_shape(self):
        stub = jina_pb2_grpc.JinaRPCStub(self.flow.channel)
        request = data_request("/fail", [text_doc("x", vectors(1)[0])])
        responses = list(stub.Call(iter([request]), timeout=30))
        self.assertEqual(len(responses), 1)
        status = responses[0].header.status
        self.assertEqual(status.code, jina_pb2.StatusProto.ERROR)
        self.assertEqual(status.exception.name, "ValueError")
        self.assertIn("refused 1 docs", " ".join(status.exception.args))
        self.assertEqual(status.exception.executor, "Shout")
        self.assertTrue(status.exception.stacks)
        # And the Flow keeps serving.
        answer = list(stub.Call(iter([data_request("/shout", [text_doc("y", vectors(1)[0])])]),
                                timeout=30))
        self.assertEqual(answer[0].data.docs.docs[0].data["text"].text, "Y")


if __name__ == "__main__":
    unittest.main()
