"""export/client_rest.py end to end: a subprocess talking to a fake TF Serving REST server
that runs the SavedModel from stand_in.build_export."""
import importlib.util
import json
import os
import socket
import time

import pytest

from tests.export_material.conftest import EXPORT, run_client

LINES = ["hello world", "", "naïve café 😀", "漢字とかな 한국어", "emoji only 🚀🎉"]


def _client_module():
    spec = importlib.util.spec_from_file_location("client_rest", os.path.join(EXPORT, "client_rest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stdin(lines):
    return "".join(line + "\n" for line in lines)


def _out_lines(result):
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" or result.stdout.endswith("\n")
    return result.stdout.split("\n")[:-1]


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _beam_fields(line):
    fields = line.split("\t")
    assert len(fields) % 2 == 0, line
    return [float(s) for s in fields[0::2]], fields[1::2]


def test_serving_default_prints_one_line_per_input(rest_server, backend):
    result = run_client("client_rest.py", "--server", rest_server.url, stdin=_stdin(LINES))
    expected = [_text(v) for v in backend.predict("serving_default", {"inputs": LINES})["outputs"]]
    assert _out_lines(result) == expected
    # One columnar request, the strings intact (empty line and non-ASCII included).
    [request] = rest_server.backend.requests
    assert request["path"] == "/v1/models/bert2bert:predict"
    assert request["body"] == {"signature_name": "serving_default", "inputs": {"inputs": LINES}}
    assert request["content_type"].startswith("application/json")


def test_stand_in_values_survive_the_round_trip(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, stdin=_stdin(LINES))
    assert _out_lines(result) == ["HELLO WORLD", "", "NAÏVE CAFÉ 😀", "漢字とかな 한국어",
                                  "EMOJI ONLY 🚀🎉"]


def test_input_file_batches_crlf_and_jsonl(rest_server, backend, tmp_path):
    lines = LINES + ["tab\there", "last"]
    path = tmp_path / "in.txt"
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))
    expected = [_text(v) for v in backend.predict("serving_default", {"inputs": lines})["outputs"]]

    text = run_client("client_rest.py", "--server", rest_server.url, "--input", path,
                      "--batch_size", 3)
    assert _out_lines(text) == [e.replace("\t", " ") for e in expected]  # text: one line each
    sent = [r["body"]["inputs"]["inputs"] for r in rest_server.backend.requests]
    assert sent == [lines[0:3], lines[3:6], lines[6:7]]  # no "\r" left, order kept

    jsonl = run_client("client_rest.py", "--server", rest_server.url, "--input", path,
                       "--format", "jsonl")
    assert [json.loads(line)["output"] for line in _out_lines(jsonl)] == expected  # exact


def test_beam_search_sends_the_scalars_and_prints_n_hypotheses(rest_server, backend):
    result = run_client("client_rest.py", "--server", rest_server.url, "--signature", "beam_search",
                        "--alpha", 0.7, "--max_length", 5, "--min_length", 3, stdin=_stdin(LINES))
    [request] = rest_server.backend.requests
    body = request["body"]
    assert body["signature_name"] == "beam_search"
    inputs = body["inputs"]
    assert inputs["inputs"] == LINES
    # Scalars, not one-element lists: that is why the client uses the columnar format.
    assert inputs["alpha"] == 0.7 and isinstance(inputs["alpha"], float)
    assert inputs["max_length"] == 5 and type(inputs["max_length"]) is int
    assert inputs["min_length"] == 3 and type(inputs["min_length"]) is int

    direct = backend.predict("beam_search", {"inputs": LINES, "alpha": 0.7, "max_length": 5,
                                             "min_length": 3})
    lines = _out_lines(result)
    assert len(lines) == len(LINES)
    n = direct["outputs"].shape[1]
    for line, texts, scores in zip(lines, direct["outputs"], direct["scores"]):
        got_scores, got_texts = _beam_fields(line)
        assert len(got_texts) == n
        assert got_texts == [_text(t) for t in texts]
        assert got_scores == pytest.approx(scores.tolist(), abs=1e-4)


def test_stand_in_beam_search_values(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, "--signature", "beam_search",
                        "--alpha", 0.7, "--max_length", 5, "--min_length", 3,
                        stdin=_stdin(["hello world", "漢字とかな 한국어"]))
    first, second = (_beam_fields(line) for line in _out_lines(result))
    assert first == (pytest.approx([-0.703, -1.403], abs=1e-4), ["HELLO", "hello"])
    assert second[1] == ["漢字とかな", "漢字とかな"]


def test_beam_search_defaults_and_jsonl(rest_server):
    module = _client_module()
    result = run_client("client_rest.py", "--server", rest_server.url, "--signature", "beam_search",
                        "--format", "jsonl", stdin=_stdin(["a b", "😀"]))
    inputs = rest_server.backend.requests[0]["body"]["inputs"]
    assert (inputs["alpha"], inputs["max_length"], inputs["min_length"]) == (
        module.DEFAULT_ALPHA, module.DEFAULT_MAX_LENGTH, module.DEFAULT_MIN_LENGTH)
    rows = [json.loads(line) for line in _out_lines(result)]
    assert len(rows) == 2
    for row in rows:
        assert len(row["outputs"]) == len(row["scores"]) >= 1
        assert all(isinstance(s, float) for s in row["scores"])


def test_score_signature(rest_server, backend):
    pairs = [("the source", "the target"), ("源", "漢字 😀"), ("x", "")]
    result = run_client("client_rest.py", "--server", rest_server.url, "--signature", "score",
                        stdin=_stdin(f"{s}\t{t}" for s, t in pairs))
    direct = backend.predict("score", {"sources": [s for s, _ in pairs],
                                       "targets": [t for _, t in pairs]})
    lines = _out_lines(result)
    assert len(lines) == len(pairs)
    for line, value, tokens in zip(lines, direct["log_likelihood"], direct["num_tokens"]):
        got_value, got_tokens = line.split("\t")
        assert float(got_value) == pytest.approx(float(value), abs=1e-4)
        assert int(got_tokens) == int(tokens)
    body = rest_server.backend.requests[0]["body"]
    assert body["inputs"] == {"sources": ["the source", "源", "x"], "targets": ["the target", "漢字 😀", ""]}


def test_score_needs_a_tab(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, "--signature", "score",
                        stdin="a\tb\nno tab here\n")
    assert result.returncode == 2
    assert "input line 2" in result.stderr and "source<TAB>target" in result.stderr
    assert rest_server.backend.requests == []


def test_http_400_gives_status_and_server_message(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, "--signature", "beam_search",
                        "--max_length", 0, stdin="hello\n")
    assert result.returncode == 1
    assert "HTTP 400" in result.stderr
    assert "max_length must be positive" in result.stderr  # the server's own error text
    assert result.stdout == ""


def test_http_404_unknown_model_or_version(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, "--model", "nosuch",
                        stdin="hello\n")
    assert result.returncode == 1
    assert "HTTP 404" in result.stderr and "Servable not found" in result.stderr

    result = run_client("client_rest.py", "--server", rest_server.url, "--version", 7, stdin="x\n")
    assert result.returncode == 1 and "HTTP 404" in result.stderr


def test_version_and_label_paths(rest_server):
    assert run_client("client_rest.py", "--server", rest_server.url, "--version", 1,
                      stdin="x\n").returncode == 0
    assert run_client("client_rest.py", "--server", rest_server.url.replace("http://", ""),
                      "--label", "stable", stdin="x\n").returncode == 0
    paths = [r["path"] for r in rest_server.backend.requests]
    assert paths == ["/v1/models/bert2bert/versions/1:predict",
                     "/v1/models/bert2bert/labels/stable:predict"]


def test_timeout(rest_server):
    rest_server.backend.delay = 3.0
    start = time.monotonic()
    result = run_client("client_rest.py", "--server", rest_server.url, "--timeout", 0.5,
                        stdin="hello\n")
    assert result.returncode == 1
    assert "within 0.5 s" in result.stderr
    assert time.monotonic() - start < 2.9


def test_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_client("client_rest.py", "--server", f"http://127.0.0.1:{port}", stdin="x\n")
    assert result.returncode == 1
    assert "cannot reach" in result.stderr and str(port) in result.stderr


def test_usage_errors(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, "--alpha", 0.5, stdin="x\n")
    assert result.returncode == 2 and "only for --signature beam_search" in result.stderr
    result = run_client("client_rest.py", "--server", rest_server.url, "--batch_size", 0, stdin="x\n")
    assert result.returncode == 2
    assert rest_server.backend.requests == []


def test_no_input_sends_nothing(rest_server):
    result = run_client("client_rest.py", "--server", rest_server.url, stdin="")
    assert result.returncode == 0 and result.stdout == ""
    assert rest_server.backend.requests == []
