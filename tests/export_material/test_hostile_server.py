"""The clients in export/ against hostile servers on 127.0.0.1: malformed answers, a 100 MB
body, a server that drips one byte every 0.5 s, terminal escape sequences, a gRPC tensor
declaring a huge shape. Each must end as one line on stderr (no traceback) within the
deadline, without holding the whole body in memory, and print escaped output."""
import base64
import importlib.util
import json
import os
import re
import time
import tracemalloc
from types import SimpleNamespace

import pytest

from tests.export_material.conftest import EXPORT, run_client
from tests.export_material.fake_serving import HostileRestServer
from tests.export_material.test_grpc_client import needs_serving_api

MB = 1_000_000
BIG = 100 * MB
DRIP_SECONDS = 0.5
MARGIN = 1.5  # seconds for starting Python and tearing the connection down
# Raw control characters that must never reach a terminal (tab and newline are allowed).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
HOSTILE_TEXT = "\x1b[2J\x1b]0;pwned\x07red\x9b31m\x7f\u2028end"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXPORT, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _http(body, status="200 OK", headers=("Content-Type: application/json",), length=True):
    head = [f"HTTP/1.1 {status}", *headers] + ([f"Content-Length: {len(body)}"] if length else [])
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _once(raw):
    return lambda: iter([raw])


def _big_body(declare_length):
    """A 100 MB answer, sent in 1 MB pieces of one preallocated block."""
    block = b"x" * MB
    head = _http(b"", length=False, headers=[f"Content-Length: {BIG}"] if declare_length else [])

    def answer():
        yield head
        for _ in range(BIG // MB):
            yield block
    return answer


def _drip(raw, limit=60):
    """`raw` one byte every DRIP_SECONDS (at most `limit` bytes: the loop ends by itself)."""
    def answer():
        for i in range(min(len(raw), limit)):
            yield raw[i:i + 1]
            time.sleep(DRIP_SECONDS)
    return answer


def _assert_one_line_error(result, status, *needles):
    assert result.returncode == status, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not RAW_CONTROL.search(result.stderr), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def _rest(server, *args, stdin="hello\n"):
    return run_client("client_rest.py", "--server", server.url, *args, stdin=stdin)


# ---------------------------------------------------------------- REST: malformed answers

BEAM = ("--signature", "beam_search")
SCORE = ("--signature", "score")
MALFORMED_200 = [
    ((), b"<html>\x1b[31mnot json</html>", "did not answer with JSON"),
    ((), b"\xff\xfe not UTF-8", "did not answer with JSON"),
    ((), b"[" * 100_000, "did not answer with JSON"),  # nested too deep
    ((), b"42", "answered without 'outputs'"),
    ((), b"[1, 2]", "answered without 'outputs'"),
    ((), b'{"outputs": null}', "answered without 'outputs'"),
    ((), b'{"outputs": 42}', "is 42, not a list of rows"),
    ((), b'{"outputs": [null]}', "is None, not text"),
    ((), b'{"outputs": [7]}', "is 7, not text"),
    ((), b'{"outputs": ["a", "b"]}', "2 rows of 'outputs' for 1 inputs"),
    ((), b'{"outputs": []}', "0 rows of 'outputs' for 1 inputs"),
    ((), b'{"outputs": [{"b64": "%%% not base64"}]}', "not base64"),
    ((), b'{"outputs": [{"b64": 5}]}', "not base64"),
    ((), b'{"outputs": {"other": [1]}}', "no output 'outputs'"),
    (BEAM, b'{"outputs": {"outputs": [["a"]]}}', "no output 'scores'"),
    (BEAM, b'{"outputs": {"outputs": ["a"], "scores": [[1.0]]}}', "not a list"),
    (BEAM, b'{"outputs": {"outputs": [["a"]], "scores": [[null]]}}', "not number"),
    (BEAM, b'{"outputs": {"outputs": [["a"]], "scores": [[true]]}}', "not number"),
    (BEAM, b'{"outputs": {"outputs": [["a", "b"]], "scores": [[1.0]]}}', "2 hypotheses but 1"),
    (SCORE, b'{"outputs": {"log_likelihood": ["x"], "num_tokens": [1]}}', "not number"),
    (SCORE, b'{"outputs": {"log_likelihood": [1' + b"0" * 400 + b'], "num_tokens": [1]}}',
     "not number"),  # too large for a float
    (SCORE, b'{"outputs": {"log_likelihood": [-1.0], "num_tokens": [1.5]}}', "not integer"),
]


@pytest.mark.parametrize("args, body, needle", [  # the first 3 in `make test-fast`
    case if i < 3 else pytest.param(*case, marks=pytest.mark.slow)
    for i, case in enumerate(MALFORMED_200)])
def test_rest_malformed_200_is_one_line(args, body, needle):
    stdin = "source\ttarget\n" if args == SCORE else "hello\n"
    with HostileRestServer(_once(_http(body))) as server:
        result = _rest(server, *args, stdin=stdin)
    _assert_one_line_error(result, 2, needle)


@pytest.mark.parametrize("raw, status, needle", [
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", 2, "did not answer in HTTP"),
    (_http(b"zz\r\n", headers=["Transfer-Encoding: chunked"], length=False), 2,
     "did not answer in HTTP"),
    (_http(b"{}", headers=[f"X-{i}: y" for i in range(200)]), 2, "did not answer in HTTP"),
    (b"", 1, "failed: Remote end closed connection"),
])
def test_rest_not_http_is_one_line(raw, status, needle):
    with HostileRestServer(_once(raw)) as server:
        result = _rest(server)
    _assert_one_line_error(result, status, needle)


def test_rest_error_status_with_garbage_body_is_one_escaped_line():
    body = b"\x1b]0;pwned\x07<html>\n<body>\x1b[2Jboom</body>\n" + b"x" * 10_000
    with HostileRestServer(_once(_http(body, status="500 Oops\x1b[5m"))) as server:
        result = _rest(server)
    _assert_one_line_error(result, 1, "HTTP 500 Oops\\u001b[5m", "\\u001b]0;pwned\\u0007")
    assert len(result.stderr) < 1000  # the body is cut short


# ---------------------------------------------------------------- REST: size and time

@pytest.mark.parametrize("declare_length", [True, False])
def test_rest_100_mb_answer_is_refused_before_it_is_read(declare_length):
    with HostileRestServer(_big_body(declare_length)) as server:
        start = time.monotonic()
        result = _rest(server, "--max_response_bytes", MB)
        elapsed = time.monotonic() - start
    _assert_one_line_error(result, 2, f"larger than {MB} bytes (--max_response_bytes)")
    assert server.sent < BIG // 2  # the client hung up early
    assert elapsed < 10


@pytest.mark.parametrize("declare_length, limit, peak", [
    (True, None, MB),  # refused from its Content-Length alone
    (False, None, BIG),  # read up to the default cap only
    (False, 8 * 2**20, 16 * 2**20),  # memory follows the cap, not the body
])
def test_rest_memory_is_bounded_by_the_cap(declare_length, limit, peak):
    client = _load("client_rest")
    limit = limit or client.DEFAULT_MAX_RESPONSE_BYTES
    with HostileRestServer(_big_body(declare_length)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(client.BadResponse, match="larger than"):
                client.rest_predict(server.url + "/v1/models/m:predict", "serving_default",
                                    {"inputs": ["x"]}, 60, limit)
            used = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert used < peak, used
    assert server.sent < BIG


@pytest.mark.slow
@pytest.mark.parametrize("headers_at_once", [False, True])
def test_rest_slow_drip_ends_at_the_deadline(headers_at_once):
    body = b'{"outputs": ["' + b"a" * 100 + b'"]}'
    head = _http(b"", length=False, headers=[f"Content-Length: {len(body)}"])

    def answer():
        if headers_at_once:
            yield head
        yield from _drip(body if headers_at_once else head + body)()
    timeout = 2
    with HostileRestServer(answer) as server:
        start = time.monotonic()
        result = _rest(server, "--timeout", timeout)
        elapsed = time.monotonic() - start
    _assert_one_line_error(result, 1, f"within {timeout} s")
    assert elapsed < timeout + MARGIN


# ---------------------------------------------------------------- REST: escaped output

def _escaped_answer():
    encoded = base64.b64encode(("b64 " + HOSTILE_TEXT).encode("utf-8")).decode("ascii")
    body = json.dumps({"outputs": [HOSTILE_TEXT + "\ud800", {"b64": encoded}]})
    return _once(_http(body.encode("ascii")))


def test_rest_output_is_escaped_in_text_and_exact_in_jsonl():
    with HostileRestServer(_escaped_answer()) as server:
        text = _rest(server, stdin="a\nb\n")
        jsonl = _rest(server, "--format", "jsonl", stdin="a\nb\n")
    for result in (text, jsonl):
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("\n") == 2 and not RAW_CONTROL.search(result.stdout)
        assert "\u2028" not in result.stdout
    first, second = text.stdout.split("\n")[:2]
    assert first == ("\\u001b[2J\\u001b]0;pwned\\u0007red\\u009b31m\\u007f\\u2028end"
                     "\\ud800")
    assert second == "b64 \\u001b[2J\\u001b]0;pwned\\u0007red\\u009b31m\\u007f\\u2028end"
    # The escapes are JSON's own: JSON lines still hold the server's exact strings.
    rows = [json.loads(line)["output"] for line in jsonl.stdout.split("\n")[:2]]
    assert rows == [HOSTILE_TEXT + "\ud800", "b64 " + HOSTILE_TEXT]


def test_rest_server_error_message_is_escaped():
    body = json.dumps({"error": "\x1b[31mfailed\nsecond line\x9b"}).encode("ascii")
    with HostileRestServer(_once(_http(body, status="400 Bad Request"))) as server:
        result = _rest(server)
    _assert_one_line_error(result, 1, "HTTP 400", "\\u001b[31mfailed\\u000asecond line\\u009b")


# ---------------------------------------------------------------- gRPC

def _tensor(dtype, shape, **values):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2

    proto = tensor_pb2.TensorProto(dtype=dtype, **values)
    proto.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in shape]))
    return proto


def _strings(*values):
    return _tensor(7, [len(values)], string_val=[v.encode("utf-8") for v in values])


def _answer(**outputs):
    """A Predict handler answering with these output TensorProtos."""
    def respond(request, context):
        from tensorflow_serving.apis import predict_pb2

        response = predict_pb2.PredictResponse()
        for name, proto in outputs.items():
            response.outputs[name].CopyFrom(proto)
        return response
    return respond


def _grpc(respond, *args, lines=("hello",), tmp_path, capsys):
    """client_grpc.main in this process (a subprocess would import TensorFlow again), against
    a server answering with `respond`: exit status, stdout, stderr, seconds, peak bytes."""
    from tests.export_material.fake_serving import FakeGrpcServer

    path = tmp_path / "in.txt"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    client = _load("client_grpc")
    with FakeGrpcServer(None, respond) as server:
        capsys.readouterr()
        tracemalloc.start()
        start = time.monotonic()
        try:
            status = client.main(["--server", server.address, "--input", str(path),
                                  *map(str, args)])
            elapsed = time.monotonic() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=status, stdout=out, stderr=err, elapsed=elapsed, peak=peak)


F32, I32, STRING = 1, 3, 7  # TensorFlow DataType numbers
BOGUS_DTYPE = 999
GRPC_MALFORMED = [
    ((), _answer(outputs=_tensor(F32, [1], float_val=[1.0])), "has dtype float32, not string"),
    ((), _answer(outputs=_tensor(BOGUS_DTYPE, [1], string_val=[b"a"])),
     "has dtype DataType 999, not string"),
    ((), _answer(other=_strings("a")), "no output 'outputs'"),
    ((), _answer(outputs=_tensor(STRING, [3], string_val=[b"a"])), "(3 values) but holds 1"),
    ((), _answer(outputs=_strings("a", "b")), "2 rows of 'outputs' for 1 inputs"),
    ((), _answer(outputs=_tensor(STRING, [1, 1, 1], string_val=[b"a"])), "has shape"),
    ((), _answer(outputs=_tensor(STRING, [-1], string_val=[b"a"])), "has shape"),
    ((), _answer(outputs=_tensor(STRING, [1], string_val=[b"a"], tensor_content=b"12345678")),
     "cannot be read"),
    (BEAM, _answer(outputs=_tensor(STRING, [1, 1], string_val=[b"a"]),
                   scores=_tensor(I32, [1, 1], int_val=[1])), "has dtype int32, not float32"),
    (BEAM, _answer(outputs=_strings("a"), scores=_tensor(F32, [1], float_val=[1.0])),
     "not a list"),
    (SCORE, _answer(log_likelihood=_tensor(F32, [1], tensor_content=b"\0\0\0\0\0"),
                    num_tokens=_tensor(I32, [1], int_val=[1])), "holds 1.25 values"),
]


@needs_serving_api
@pytest.mark.parametrize("args, respond, needle", GRPC_MALFORMED)
def test_grpc_malformed_answer_is_one_line(args, respond, needle, tmp_path, capsys):
    lines = ["source\ttarget"] if args == SCORE else ["hello"]
    outcome = _grpc(respond, *args, lines=lines, tmp_path=tmp_path, capsys=capsys)
    _assert_one_line_error(outcome, 2, needle)


@needs_serving_api
@pytest.mark.parametrize("shape, values", [
    ([25_000_000], {"float_val": [1.0]}),  # 100 MB once filled in
    ([2**31, 2**31], {"tensor_content": b"\0\0\0\0"}),
])
def test_grpc_huge_declared_shape_is_refused_before_it_is_built(shape, values, tmp_path, capsys):
    respond = _answer(log_likelihood=_tensor(F32, shape, **values),
                      num_tokens=_tensor(I32, [1], int_val=[1]))
    outcome = _grpc(respond, *SCORE, lines=["source\ttarget"], tmp_path=tmp_path, capsys=capsys)
    _assert_one_line_error(outcome, 2, f"has shape {shape}")
    assert outcome.elapsed < 10 and outcome.peak < 10 * MB, (outcome.elapsed, outcome.peak)


@needs_serving_api
def test_grpc_message_over_the_cap_is_one_line(tmp_path, capsys):
    outcome = _grpc(_answer(outputs=_strings("a" * 10_000)), "--max_response_bytes", 1000,
                    tmp_path=tmp_path, capsys=capsys)
    _assert_one_line_error(outcome, 1, "RESOURCE_EXHAUSTED")


@needs_serving_api
def test_grpc_deadline_is_the_whole_call(tmp_path, capsys):
    def slow(request, context):
        time.sleep(3)  # ends by itself
        return _answer(outputs=_strings("late"))(request, context)
    outcome = _grpc(slow, "--timeout", 0.5, tmp_path=tmp_path, capsys=capsys)
    _assert_one_line_error(outcome, 1, "within 0.5 s")
    assert outcome.elapsed < 0.5 + MARGIN


@needs_serving_api
def test_grpc_output_and_errors_are_escaped(tmp_path, capsys):
    result = _grpc(_answer(outputs=_strings(HOSTILE_TEXT)), "--format", "jsonl",
                   tmp_path=tmp_path, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert not RAW_CONTROL.search(result.stdout) and "\u2028" not in result.stdout
    assert json.loads(result.stdout)["output"] == HOSTILE_TEXT

    def abort(request, context):
        import grpc
        context.abort(grpc.StatusCode.INTERNAL, "\x1b[31mboom\nsecond line")
    outcome = _grpc(abort, tmp_path=tmp_path, capsys=capsys)
    _assert_one_line_error(outcome, 1, "INTERNAL", "\\u001b[31mboom\\u000asecond line")
