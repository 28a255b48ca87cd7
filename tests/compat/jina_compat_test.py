#!/usr/bin/env python3
"""Jina compatibility checks: a Python peer speaking Jina's protocol to real `shoal executor`
processes, with stubs generated from Shoal's protos, the way Jina's own client and gateway do it
(reflection first, health checks, TextDocs with ndarray embeddings, __results__ parameters)."""

import array
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.environ.get("SHOAL_PY_STUBS", "stubs"))

import grpc  # noqa: E402
from google.protobuf import empty_pb2, json_format, struct_pb2  # noqa: E402

import docarray_pb2  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
import jina_pb2  # noqa: E402
import jina_pb2_grpc  # noqa: E402
import reflection_pb2  # noqa: E402
import reflection_pb2_grpc  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "shoal")
DIM = 8


class ShoalProcess:
    """A `shoal` process (argv) on 127.0.0.1 that prints `ready port=N`, with a channel to it;
    ended by pid."""

    def __init__(self, argv, what, stop_timeout=20):
        self.stop_timeout = stop_timeout
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()  # the child prints its ready line or exits
        if not line.startswith("ready port="):
            self.proc.kill()
            raise RuntimeError(what + " did not start: " + self.proc.stderr.read())
        self.port = int(line.strip().split("=")[1])
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def stop(self):
        self.channel.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=self.stop_timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc.stdout.close()
            self.proc.stderr.close()


class Replica(ShoalProcess):
    """One `shoal executor` process on 127.0.0.1, ended by pid."""

    def __init__(self, uses, name="compat/rep-0", uses_with=None):
        argv = [SHOAL, "executor", "--uses", uses, "--name", name, "--host", "127.0.0.1",
                "--port", "0"]
        if uses_with:
            argv += ["--uses-with", uses_with]
        super().__init__(argv, "replica")


def text_doc(text, embedding):
    """A docarray TextDoc as docarray >= 0.30 encodes it: None fields have no content."""
    doc = docarray_pb2.DocProto()
    doc.data["id"].text = uuid.uuid4().hex
    doc.data["id"].type = "id"
    doc.data["text"].text = text
    doc.data["url"].CopyFrom(docarray_pb2.NodeProto())
    doc.data["bytes_"].CopyFrom(docarray_pb2.NodeProto())
    node = doc.data["embedding"]
    node.ndarray.dense.buffer = array.array("f", embedding).tobytes()
    node.ndarray.dense.shape.append(len(embedding))
    node.ndarray.dense.dtype = "<f4"
    node.type = "ndarray"
    return doc


def data_request(endpoint, docs, parameters=None):
    """A DataRequest as Jina's client builds it."""
    request = jina_pb2.DataRequestProto()
    request.header.request_id = uuid.uuid4().hex
    request.header.exec_endpoint = endpoint
    params = {"__results__": {}}
    params.update(parameters or {})
    request.parameters.update(params)
    for d in docs:
        request.data.docs.docs.append(d)
    return request


def embedding_of(doc):
    dense = doc.data["embedding"].ndarray.dense
    values = array.array("f")
    values.frombytes(dense.buffer)
    return list(values), list(dense.shape), dense.dtype


def vectors(n, offset=0):
    return [[float((i + offset) * DIM + j) / 100.0 for j in range(DIM)] for i in range(n)]


JSON_SCHEMA_TYPES = {"string", "integer", "number", "boolean", "object", "array"}


def check_model_schema(test, where, model):
    """A document model as Jina's gateway turns it into a pydantic class: a JSON schema object
    with `properties`, each property typed (or a reference) the way the gateway can read it."""
    test.assertIsInstance(model, dict, where)
    test.assertEqual(model.get("type"), "object", where)
    test.assertIsInstance(model.get("properties"), dict, where)
    test.assertIn("id", model["properties"], where)
    for name, prop in model["properties"].items():
        if "$ref" in prop or "anyOf" in prop or "allOf" in prop:
            continue
        test.assertIn(prop.get("type"), JSON_SCHEMA_TYPES, f"{where}.properties.{name}")
        if prop["type"] == "array":
            test.assertIn(prop["items"].get("type"), JSON_SCHEMA_TYPES,
                          f"{where}.properties.{name}.items")
        if prop["type"] == "object" and "additionalProperties" in prop:
            test.assertIsInstance(prop["additionalProperties"], dict, f"{where}.{name}")


def jina_gateway_view(test, endpoints):
    """What Jina 3.20's gateway builds from an endpoint_discovery answer before it serves
    (TopologyGraph._ReqReplyNode.get_endpoints, then one lookup per listed endpoint): a missing
    entry is the KeyError that stops the gateway from starting."""
    schemas = json_format.MessageToDict(endpoints.schemas)
    view = {}
    for endpoint in endpoints.endpoints:
        try:
            inner = schemas[endpoint]
            view[endpoint] = {
                "input": (inner["input"]["name"], inner["input"]["model"]),
                "output": (inner["output"]["name"], inner["output"]["model"]),
                "parameters": (inner["parameters"]["name"], inner["parameters"]["model"]),
                "is_generator": inner["is_generator"],
                "is_singleton_doc": inner["is_singleton_doc"],
            }
        except KeyError as e:
            test.fail(f"endpoint {endpoint!r}: no schema entry {e} (Jina's gateway would not start)")
        for side in ("input", "output"):
            name, model = view[endpoint][side]
            test.assertTrue(name, f"{endpoint}.{side}.name")
            check_model_schema(test, f"{endpoint}.{side}.model", model)
        test.assertIsInstance(view[endpoint]["is_generator"], bool)
        test.assertIsInstance(view[endpoint]["is_singleton_doc"], bool)
    return view


class ReplicaCompatTest(unittest.TestCase):
    def test_reflection_lists_jina_services(self):
        replica = Replica("Echo")
        try:
            stub = reflection_pb2_grpc.ServerReflectionStub(replica.channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            responses = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
            names = {s.name for s in responses[0].list_services_response.service}
            for service in ["jina.JinaRPC", "jina.JinaSingleDataRequestRPC",
                            "jina.JinaDataRequestRPC", "jina.JinaDiscoverEndpointsRPC",
                            "jina.JinaInfoRPC"]:
                self.assertIn(service, names)
        finally:
            self.assertEqual(replica.stop(), 0)

    def test_health_is_serving(self):
        replica = Replica("Echo")
        try:
            stub = health_pb2_grpc.HealthStub(replica.channel)
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)
        finally:
            replica.stop()

    def test_process_single_data_with_text_docs_and_embeddings(self):
        replica = Replica("Echo")
        try:
            stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(replica.channel)
            sent = [text_doc(f"hello {i}", v) for i, v in enumerate(vectors(3))]
            request = data_request("/foo", sent)
            response, call = stub.process_single_data.with_call(request, timeout=10)
            self.assertEqual(response.header.status.code, jina_pb2.StatusProto.SUCCESS)
            self.assertEqual(response.header.request_id, request.header.request_id)
            self.assertEqual(len(response.data.docs.docs), 3)
            for got, want in zip(response.data.docs.docs, sent):
                self.assertEqual(got.data["id"].text, want.data["id"].text)
                self.assertEqual(got.data["id"].type, "id")
                self.assertEqual(got.data["text"].text, want.data["text"].text)
                self.assertEqual(embedding_of(got), embedding_of(want))
                self.assertEqual(got.data["embedding"].type, "ndarray")
                self.assertEqual(got.data["served_by"].text, "compat/rep-0")
                self.assertFalse(got.data["url"].HasField("text"))
            self.assertIn("__results__", response.parameters)
            trailing = dict(call.trailing_metadata() or ())
            self.assertNotIn("is-error", trailing)
        finally:
            replica.stop()

    def test_call_stream_answers_every_request(self):
        replica = Replica("Echo")
        try:
            stub = jina_pb2_grpc.JinaRPCStub(replica.channel)
            requests = [data_request("/bar", [text_doc(f"r{i}", v)])
                        for i, v in enumerate(vectors(20))]
            responses = list(stub.Call(iter(requests), timeout=20))
            self.assertEqual(len(responses), 20)
            want = {r.header.request_id: r.data.docs.docs[0].data["text"].text for r in requests}
            got = {r.header.request_id: r.data.docs.docs[0].data["text"].text for r in responses}
            self.assertEqual(got, want)
        finally:
            replica.stop()

    def test_executor_error_as_jina_reports_it(self):
        replica = Replica("Fail")
        try:
            stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(replica.channel)
            request = data_request("/foo", [text_doc("x", vectors(1)[0])], {"fail": True})
            response, call = stub.process_single_data.with_call(request, timeout=10)
            self.assertEqual(response.header.status.code, jina_pb2.StatusProto.ERROR)
            self.assertEqual(response.header.status.exception.executor, "Fail")
            self.assertTrue(response.header.status.exception.name)
            self.assertTrue(response.header.status.exception.args)
            trailing = dict(call.trailing_metadata() or ())
            self.assertEqual(trailing.get("is-error"), "true")
        finally:
            replica.stop()

    def test_endpoint_discovery_and_status(self):
        replica = Replica("ExactNNIndexer")
        try:
            stub = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(replica.channel)
            endpoints = stub.endpoint_discovery(empty_pb2.Empty(), timeout=10)
            self.assertIn("/index", endpoints.endpoints)
            self.assertIn("/search", endpoints.endpoints)
            self.assertIn("_jina_dry_run_", endpoints.endpoints)
            self.assertEqual(list(endpoints.write_endpoints), ["/index"])
            self.assertIn("/search", endpoints.schemas)
            info = jina_pb2_grpc.JinaInfoRPCStub(replica.channel)._status(empty_pb2.Empty(),
                                                                          timeout=10)
            self.assertIn("shoal", info.jina)
        finally:
            replica.stop()

    def test_jina_gateway_reads_every_discovered_endpoint(self):
        for uses in ["Echo", "ExactNNIndexer"]:
            replica = Replica(uses)
            try:
                stub = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(replica.channel)
                endpoints = stub.endpoint_discovery(empty_pb2.Empty(), timeout=10)
                self.assertIn("_jina_dry_run_", endpoints.endpoints)
                view = jina_gateway_view(self, endpoints)
                self.assertEqual(set(view), set(endpoints.endpoints))
            finally:
                replica.stop()

    def test_index_and_search_matches_decode(self):
        replica = Replica("ExactNNIndexer", uses_with='{"metric": "l2"}')
        try:
            stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(replica.channel)
            indexed = [text_doc(f"doc {i}", v) for i, v in enumerate(vectors(50))]
            response = stub.process_single_data(data_request("/index", indexed), timeout=10)
            self.assertEqual(response.header.status.code, jina_pb2.StatusProto.SUCCESS)
            query = text_doc("query", vectors(1, offset=7)[0])
            response = stub.process_single_data(data_request("/search", [query], {"limit": 3}),
                                                timeout=10)
            self.assertEqual(response.header.status.code, jina_pb2.StatusProto.SUCCESS)
            answer = response.data.docs.docs[0]
            matches = answer.data["matches"].doc_array.docs
            self.assertEqual(len(matches), 3)
            self.assertEqual(matches[0].data["text"].text, "doc 7")
            self.assertEqual(matches[0].data["id"].text, indexed[7].data["id"].text)
            scores = [n.float for n in answer.data["scores"].list.data]
            self.assertEqual(len(scores), 3)
            self.assertAlmostEqual(scores[0], 0.0, places=5)
            self.assertEqual(scores, sorted(scores))
        finally:
            replica.stop()

    def test_docs_bytes_accepted(self):
        replica = Replica("Echo")
        try:
            stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(replica.channel)
            request = data_request("/foo", [text_doc("bytes", vectors(1)[0])])
            encoded = request.data.docs.SerializeToString()
            request.data.docs_bytes = encoded
            response = stub.process_single_data(request, timeout=10)
            self.assertEqual(response.data.docs.docs[0].data["text"].text, "bytes")
        finally:
            replica.stop()


class StreamingCompatTest(unittest.TestCase):
    """Streaming endpoints as Jina's client and gateway see them: reflection lists
    JinaSingleDocumentRequestRPC, discovery marks the endpoint is_generator, and the client's
    stream_doc (a SingleDocumentRequestProto in, one per yielded doc out) works through a Shoal
    gateway in front of two Executors, the streaming one first."""

    def test_replica_lists_the_service_and_marks_generators(self):
        replica = Replica("Stream")
        try:
            stub = reflection_pb2_grpc.ServerReflectionStub(replica.channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            responses = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
            names = {s.name for s in responses[0].list_services_response.service}
            self.assertIn("jina.JinaSingleDocumentRequestRPC", names)
            discovery = jina_pb2_grpc.JinaDiscoverEndpointsRPCStub(replica.channel)
            endpoints = discovery.endpoint_discovery(empty_pb2.Empty(), timeout=10)
            schemas = json_format.MessageToDict(endpoints.schemas)
            self.assertTrue(schemas["/default"]["is_generator"])
            self.assertFalse(schemas["_jina_dry_run_"]["is_generator"])
        finally:
            replica.stop()

    def test_jina_client_streams_through_a_flow(self):
        folder = tempfile.mkdtemp(prefix="shoal-compat-stream-")
        yaml = os.path.join(folder, "flow.yml")
        with open(yaml, "w") as f:
            f.write("jtype: Flow\nwith:\n  host: 127.0.0.1\nexecutors:\n"
                    "  - name: gen\n    uses: Stream\n  - name: post\n    uses: Echo\n")
        flow = ShoalProcess([SHOAL, "flow", "--uses", yaml, "--port", "0"], "flow")
        try:
            stub = reflection_pb2_grpc.ServerReflectionStub(flow.channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            responses = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
            names = {s.name for s in responses[0].list_services_response.service}
            self.assertIn("jina.JinaSingleDocumentRequestRPC", names)

            single = jina_pb2.SingleDocumentRequestProto()
            single.header.request_id = uuid.uuid4().hex
            single.header.exec_endpoint = "/generate"
            single.parameters.update({"__results__": {}, "n": 3})
            single.document.CopyFrom(text_doc("hello", vectors(1)[0]))
            streamer = jina_pb2_grpc.JinaSingleDocumentRequestRPCStub(flow.channel)
            answers = list(streamer.stream_doc(single, timeout=30))
            self.assertEqual([a.document.data["text"].text for a in answers],
                             ["hello 0", "hello 1", "hello 2"])
            for answer in answers:
                self.assertEqual(answer.header.request_id, single.header.request_id)
                self.assertEqual(answer.document.data["served_by"].text, "post/rep-0")
                self.assertEqual(embedding_of(answer.document)[0],
                                 list(array.array("f", vectors(1)[0])))
        finally:
            flow.stop()


if __name__ == "__main__":
    unittest.main()
