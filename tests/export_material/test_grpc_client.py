"""export/client_grpc.py: compiles, names the pip package it needs when that is missing, and
(where tensorflow-serving-api is installed) works end to end against a fake PredictionService.

One end-to-end case runs the script as a command (a subprocess, which imports TensorFlow
again: seconds); the others call its `main` in this process, stdin and all (`in_process`)."""
import importlib.util
import io
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.export_material.conftest import EXPORT, run_client

LINES = ["hello world", "", "naïve café 😀", "漢字とかな 한국어"]


def _serving_api_available():
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: F401
        import grpc  # noqa: F401
    except ImportError:
        return False
    return True


def _env(**extra):
    env = dict(os.environ)
    env.update(extra)
    return env


def _without_serving_api(tmp_path):
    """An environment whose `tensorflow_serving` is an empty stub package, so that
    `from tensorflow_serving.apis import ...` fails even where the real one is installed."""
    stub = tmp_path / "stub" / "tensorflow_serving"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    path = [str(tmp_path / "stub")] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    return _env(PYTHONPATH=os.pathsep.join(path))


def in_process(monkeypatch, capsys, *args, stdin=""):
    """export/client_grpc.py's `main(args)` in this process, reading `stdin`: the
    CompletedProcess-like (returncode, stdout, stderr) that `run_client` would give."""
    spec = importlib.util.spec_from_file_location("client_grpc",
                                                  os.path.join(EXPORT, "client_grpc.py"))
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")),
                                                       encoding="utf-8"))
    capsys.readouterr()
    status = client.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=status, stdout=out, stderr=err)


@pytest.mark.parametrize("script", ["client_grpc.py", "client_rest.py"])
def test_compiles(script, tmp_path):
    result = subprocess.run([sys.executable, "-m", "py_compile", os.path.join(EXPORT, script)],
                            capture_output=True, text=True,
                            env=_env(PYTHONPYCACHEPREFIX=str(tmp_path)))
    assert result.returncode == 0, result.stderr


def test_missing_package_is_named(tmp_path):
    result = run_client("client_grpc.py", "--server", "127.0.0.1:1", stdin="hello\n",
                        env=_without_serving_api(tmp_path))
    assert result.returncode == 3
    assert "tensorflow-serving-api" in result.stderr and "pip install" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_help_works_without_the_package(tmp_path):
    result = run_client("client_grpc.py", "--help", env=_without_serving_api(tmp_path))
    assert result.returncode == 0
    for option in ("--server", "--model", "--signature", "--alpha", "--max_length",
                   "--min_length", "--input", "--timeout"):
        assert option in result.stdout


def needs_serving_api(test):
    """Skipped without tensorflow-serving-api; slow, since the client imports tensorflow."""
    skip = pytest.mark.skipif(
        not _serving_api_available(),
        reason="tensorflow-serving-api is not installed (pip install 'tensorflow-serving-api==2.20.*')")
    return pytest.mark.slow(skip(test))


@pytest.fixture
def grpc_server(backend):
    from tests.export_material.fake_serving import FakeGrpcServer

    backend.requests.clear()
    backend.delay = 0.0
    with FakeGrpcServer(backend) as server:
        yield server
    backend.delay = 0.0


@needs_serving_api
def test_grpc_serving_default(grpc_server, backend):
    """The script as a command: a fresh Python reading stdin."""
    result = run_client("client_grpc.py", "--server", grpc_server.address, stdin="".join(
        line + "\n" for line in LINES))
    assert result.returncode == 0, result.stderr
    expected = [v.decode("utf-8") for v in backend.predict("serving_default", {"inputs": LINES})["outputs"]]
    assert result.stdout.split("\n")[:-1] == expected
    [request] = backend.requests
    assert request["model"] == "bert2bert" and request["signature_name"] == "serving_default"
    assert [s.decode("utf-8") for s in request["inputs"]["inputs"]] == LINES


@needs_serving_api
def test_grpc_beam_search_scalars_and_errors(grpc_server, backend, monkeypatch, capsys):
    result = in_process(monkeypatch, capsys, "--server", grpc_server.address, "--signature",
                        "beam_search", "--alpha", 0.7, "--max_length", 5, "--min_length", 3,
                        stdin="hello world\n漢字\n")
    assert result.returncode == 0, result.stderr
    [request] = backend.requests
    assert request["shapes"] == {"inputs": [2], "alpha": [], "max_length": [], "min_length": []}
    assert request["inputs"]["alpha"] == pytest.approx(0.7)
    assert (request["inputs"]["max_length"], request["inputs"]["min_length"]) == (5, 3)
    direct = backend.predict("beam_search", {"inputs": ["hello world", "漢字"], "alpha": 0.7,
                                             "max_length": 5, "min_length": 3})
    for line, texts, scores in zip(result.stdout.split("\n")[:-1], direct["outputs"], direct["scores"]):
        fields = line.split("\t")
        assert fields[1::2] == [t.decode("utf-8") for t in texts]
        assert [float(s) for s in fields[0::2]] == pytest.approx(scores.tolist(), abs=1e-4)

    bad = in_process(monkeypatch, capsys, "--server", grpc_server.address, "--signature",
                     "beam_search", "--max_length", 0, stdin="hello\n")
    assert bad.returncode == 1
    assert "INVALID_ARGUMENT" in bad.stderr and "max_length must be positive" in bad.stderr

    missing = in_process(monkeypatch, capsys, "--server", grpc_server.address, "--model", "nosuch",
                         stdin="hello\n")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr


@needs_serving_api
def test_grpc_score_and_label(grpc_server, backend, monkeypatch, capsys):
    result = in_process(monkeypatch, capsys, "--server", grpc_server.address, "--signature", "score",
                        "--label", "stable", stdin="src\t漢字 😀\n")
    assert result.returncode == 0, result.stderr
    value, tokens = result.stdout.strip("\n").split("\t")
    direct = backend.predict("score", {"sources": ["src"], "targets": ["漢字 😀"]})
    assert float(value) == pytest.approx(float(direct["log_likelihood"][0]), abs=1e-4)
    assert int(tokens) == int(direct["num_tokens"][0])
    assert backend.requests[0]["label"] == "stable"


@needs_serving_api
def test_grpc_timeout(grpc_server, backend, monkeypatch, capsys):
    backend.delay = 3.0
    result = in_process(monkeypatch, capsys, "--server", grpc_server.address, "--timeout", 0.5,
                        stdin="hello\n")
    assert result.returncode == 1 and "within 0.5 s" in result.stderr
