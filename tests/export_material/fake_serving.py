"""Fake TensorFlow Serving front ends (REST and gRPC) over a SavedModel loaded in-process.

They speak just enough of TF Serving's protocols for the clients in export/:
  REST  POST /v1/models/<name>[/versions/<n>|/labels/<label>]:predict, columnar format
        ({"signature_name", "inputs"}) only; answers {"outputs": [...]} for one output,
        {"outputs": {name: [...]}} for several, and {"error": "..."} with HTTP 400/404
        like the real server.
  gRPC  tensorflow.serving.PredictionService/Predict (needs tensorflow-serving-api).
Both listen on 127.0.0.1 only and record each request they get. For the clients' safety
tests, HostileRestServer answers with whatever bytes it is given, and FakeGrpcServer
can answer with any PredictResponse instead of the model's.
"""
import base64
import json
import re
import socket
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tensorflow as tf

MODEL_VERSION = 1
LABELS = {"stable": MODEL_VERSION}
_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?:predict$")


class PredictError(Exception):
    def __init__(self, http_status, grpc_code_name, message):
        super().__init__(message)
        self.http_status = http_status
        self.grpc_code_name = grpc_code_name


class Backend:
    """Runs a signature of the loaded SavedModel on plain Python / numpy inputs."""

    def __init__(self, version_dir, model_name="bert2bert"):
        self.model = tf.saved_model.load(version_dir)
        self.model_name = model_name
        self.requests = []  # what the clients sent, decoded
        self.delay = 0.0  # seconds to wait before answering (timeouts)

    def check_servable(self, name, version=None, label=None):
        if label is not None:
            version = LABELS.get(label)
            if version is None:
                raise PredictError(404, "NOT_FOUND", f"Unrecognized servable version label: {label}")
        if name != self.model_name or version not in (None, MODEL_VERSION):
            wanted = f"Latest({name})" if version is None else f"{{ name: {name} version: {version} }}"
            raise PredictError(404, "NOT_FOUND", f"Servable not found for request: {wanted}")

    def predict(self, signature_name, inputs):
        signature_name = signature_name or "serving_default"
        if signature_name not in self.model.signatures:
            raise PredictError(400, "INVALID_ARGUMENT",
                               f'Serving signature name: "{signature_name}" not found in '
                               "signature def")
        function = self.model.signatures[signature_name]
        specs = function.structured_input_signature[1]
        missing = sorted(set(specs) - set(inputs))
        extra = sorted(set(inputs) - set(specs))
        if missing or extra:
            raise PredictError(400, "INVALID_ARGUMENT",
                               f"input size does not match signature: missing {missing}, "
                               f"unexpected {extra}")
        try:
            tensors = {name: tf.constant(inputs[name], dtype=spec.dtype)
                       for name, spec in specs.items()}
            outputs = function(**tensors)
        except (tf.errors.OpError, TypeError, ValueError) as err:
            raise PredictError(400, "INVALID_ARGUMENT",
                               getattr(err, "message", None) or str(err))
        return {name: value.numpy() for name, value in outputs.items()}


def _json_value(value):
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value


class _Handler(BaseHTTPRequestHandler):
    backend = None  # set per server class

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self, status, payload):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def do_POST(self):
        backend = self.backend
        match = _PATH.match(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not match:
            return self._answer(404, {"error": f"Malformed request: POST {self.path}"})
        name, version, label = match.group(1), match.group(2), match.group(3)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            return self._answer(400, {"error": f"JSON Parse error: {err}"})
        backend.requests.append({"path": self.path, "body": body,
                                 "content_type": self.headers.get("Content-Type")})
        if backend.delay:
            time.sleep(backend.delay)
        try:
            backend.check_servable(name, int(version) if version else None, label)
            if "instances" in body or "inputs" not in body:
                raise PredictError(400, "INVALID_ARGUMENT",
                                   "this fake server only speaks the columnar format ('inputs')")
            outputs = backend.predict(body.get("signature_name"), body["inputs"])
        except PredictError as err:
            return self._answer(err.http_status, {"error": str(err)})
        columns = {name: _json_value(value.tolist()) for name, value in outputs.items()}
        if len(columns) == 1:  # TF Serving drops the name when there is only one output
            columns = next(iter(columns.values()))
        self._answer(200, {"outputs": columns})


class FakeRestServer:
    def __init__(self, backend):
        self.backend = backend
        handler = type("Handler", (_Handler,), {"backend": backend})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _read_request(conn):
    """Reads one HTTP request: headers, then Content-Length bytes. False on early EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    missing = int(length.group(1)) - len(body) if length else 0
    while missing > 0:
        chunk = conn.recv(min(missing, 65536))
        if not chunk:
            return False
        missing -= len(chunk)
    return True


class HostileRestServer:
    """An HTTP server that reads each request, then sends the byte strings that
    `answer()` yields, as they come (the generator may sleep between them), and closes
    the connection. `sent` counts the bytes the socket accepted. Every loop is bounded:
    answers are finite, and stop early when the client hangs up or the server stops."""

    def __init__(self, answer):
        self.answer = answer
        self.sent = 0
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so that the accept loop sees `stopping`
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads = [threading.Thread(target=self._accept, daemon=True)]

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(10)
            try:
                if not _read_request(conn):
                    return
                for chunk in self.answer():
                    if self.stopping.is_set():
                        break
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass  # the client hung up: what most of these tests expect

    def __enter__(self):
        self.threads[0].start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in list(self.threads):
            thread.join(timeout=10)
        self.listener.close()


class FakeGrpcServer:
    """PredictionService over the same backend; needs grpcio and tensorflow-serving-api.
    With `respond`, Predict returns respond(request, context) (a PredictResponse) instead."""

    def __init__(self, backend, respond=None):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        self.backend = backend

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):
                if respond is not None:
                    return respond(request, context)
                spec = request.model_spec
                inputs = {name: tf.make_ndarray(proto).tolist()
                          for name, proto in request.inputs.items()}
                backend.requests.append({
                    "model": spec.name, "signature_name": spec.signature_name,
                    "version": spec.version.value if spec.HasField("version") else None,
                    "label": spec.version_label or None, "inputs": inputs,
                    "shapes": {name: [d.size for d in proto.tensor_shape.dim]
                               for name, proto in request.inputs.items()}})
                if backend.delay:
                    time.sleep(backend.delay)
                try:
                    backend.check_servable(
                        spec.name, spec.version.value if spec.HasField("version") else None,
                        spec.version_label or None)
                    outputs = backend.predict(spec.signature_name, inputs)
                except PredictError as err:
                    context.abort(getattr(grpc.StatusCode, err.grpc_code_name), str(err))
                response = predict_pb2.PredictResponse()
                response.model_spec.name = spec.name
                response.model_spec.signature_name = spec.signature_name or "serving_default"
                for name, value in outputs.items():
                    response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
                return response

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(grace=None).wait(10)
