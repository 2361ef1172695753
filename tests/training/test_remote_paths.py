"""Every path may be a URL: a whole train -> evaluate -> export -> predict cycle on `ram://`.

TensorFlow's `ram://` filesystem lives in this process's memory and is reached only through
`tf.io.gfile` (never by `os` or `open`), so a run on it exercises exactly what a `gs://` run on
a TPU needs. The file operations themselves (`bert2bert.textfiles`) are checked on their own
first: URLs are joined, never made absolute; an atomic write leaves no temp file; a missing
file is a `FileNotFoundError` naming it, as for a local path.

ram:// quirks the package meets (not gs://'s): any string prefix of a file name counts as an
existing directory (`ram://x/ckpt-2` is "a directory" once `ram://x/ckpt-2.index` exists), and
a folder lists its entries only if it was made explicitly. Every test here uses its own root.
"""
import gzip
import json
import os
import tempfile
import uuid

import pytest
import tensorflow as tf
import yaml

from bert2bert import textfiles
from bert2bert.cli import main
from bert2bert.errors import UsageError
from bert2bert import atomic
from bert2bert.training import run_lock

# The smoke run, as short as it gets: one update, one checkpoint, greedy decoding.
QUICK = ["train.train_steps=1", "train.checkpoint_every=1", "train.log_every=1",
         "train.batch_size=4", "task.max_source_length=24", "task.max_target_length=12",
         "decode.beam_size=1"]


@pytest.fixture
def ram():
    """A fresh ram:// folder (made explicitly, so that it lists its entries), removed after."""
    root = f"ram://b2b-{uuid.uuid4().hex[:8]}"
    textfiles.makedirs(root)
    yield root
    textfiles.rmtree(root, ignore_errors=True)


def tree(root: str) -> dict:
    """{path relative to root: bytes} of every file under `root` (local or URL)."""
    out = {}
    for directory, _, names in textfiles.walk(root):
        for name in names:
            path = textfiles.join(directory, name)
            out[path[len(root):].lstrip("/")] = textfiles.read_bytes(path)
    return out


# ------------------------------------------------------------------ the file operations


def test_urls_are_joined_and_never_made_absolute():
    assert textfiles.join("gs://b/x", "y") == "gs://b/x/y"
    assert textfiles.join("gs://b/x/", "y", "z.json") == "gs://b/x/y/z.json"
    for url in ("gs://b/x/y", "ram://r/a", "hdfs://host:9000/p", "s3://b/k"):
        assert textfiles.is_url(url)
        assert textfiles.absolute(url) == textfiles.canonical(url) == url
        assert textfiles.expanduser(url) == url
    for local in ("/tmp/x", "runs/x", "./gs:/b", "C:x", "package:foo/bar"):
        assert not textfiles.is_url(local)
    assert textfiles.join("runs", "x") == os.path.join("runs", "x")
    assert textfiles.absolute("runs") == os.path.abspath("runs")


def test_atomic_writes_on_ram_leave_no_temp_file(ram):
    path = textfiles.join(ram, "run", "config.yaml")  # its folder does not exist yet
    atomic.write_text(path, "a: 1\n")
    atomic.write_json(textfiles.join(ram, "run", "r.json"), {"x": 1})
    assert sorted(textfiles.listdir(textfiles.join(ram, "run"))) == ["config.yaml", "r.json"]
    atomic.write_text(path, "a: 2\n")  # replaced
    assert textfiles.read_text(path) == "a: 2\n"
    with pytest.raises(FileExistsError, match="config.yaml"):
        atomic.write_text(path, "a: 3\n", overwrite=False)
    with pytest.raises(RuntimeError):  # a writer that fails half-way: the target is untouched
        with atomic.replacing(path) as tmp:
            with textfiles.open_file(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("killed")
    assert textfiles.read_text(path) == "a: 2\n"
    assert sorted(textfiles.listdir(textfiles.join(ram, "run"))) == ["config.yaml", "r.json"]


def test_file_operations_on_ram(ram, tmp_path):
    src = textfiles.join(ram, "src")
    textfiles.makedirs(textfiles.join(src, "sub"))
    with textfiles.open_file(textfiles.join(src, "a.txt"), "wb") as f:
        f.write(b"\xef\xbb\xbfone\r\ntwo\n")
    with textfiles.open_file(textfiles.join(src, "sub", "b.txt.gz"), "wb") as f:
        f.write(gzip.compress("Größe\n".encode("utf-8")))
    assert textfiles.isdir(src) and textfiles.isfile(textfiles.join(src, "a.txt"))
    assert not textfiles.isfile(src) and not textfiles.isdir(textfiles.join(src, "a.txt"))
    assert sorted(textfiles.listdir(src)) == ["a.txt", "sub"]
    assert textfiles.getsize(textfiles.join(src, "a.txt")) == 12
    assert textfiles.glob(textfiles.join(src, "*.txt")) == [textfiles.join(src, "a.txt")]
    # the readers of the package: BOM and "\r" dropped, .gz decompressed, as locally
    assert list(textfiles.text_lines(textfiles.join(src, "a.txt"))) == ["one", "two"]
    assert list(textfiles.text_lines(textfiles.join(src, "sub", "b.txt.gz"))) == ["Größe"]
    before = textfiles.stamp(textfiles.join(src, "a.txt"))
    assert before[0] == 12

    textfiles.copy_tree(src, textfiles.join(ram, "copy"))  # URL -> URL
    textfiles.copy_tree(src, str(tmp_path / "local"))  # URL -> local
    assert tree(textfiles.join(ram, "copy")) == tree(src) == tree(str(tmp_path / "local"))
    textfiles.move_tree(textfiles.join(ram, "copy"), textfiles.join(ram, "moved"))
    assert not textfiles.exists(textfiles.join(ram, "copy", "a.txt"))
    assert tree(textfiles.join(ram, "moved")) == tree(src)
    textfiles.rename(textfiles.join(ram, "moved", "a.txt"), textfiles.join(ram, "moved", "c"))
    with pytest.raises(FileExistsError):
        textfiles.rename(textfiles.join(ram, "moved", "c"),
                         textfiles.join(ram, "moved", "sub", "b.txt.gz"), overwrite=False)
    textfiles.remove(textfiles.join(ram, "moved", "c"))
    textfiles.rmtree(textfiles.join(ram, "moved"))
    assert not textfiles.exists(textfiles.join(ram, "moved", "sub", "b.txt.gz"))

    missing = textfiles.join(ram, "nope.txt")
    for read in (textfiles.read_bytes, textfiles.getsize, textfiles.remove, textfiles.stamp,
                 lambda p: list(textfiles.text_lines(p))):
        with pytest.raises(FileNotFoundError, match="nope.txt"):
            read(missing)


def test_local_only_readers_say_so_in_one_line():
    assert textfiles.local_only("/x/model.h5", "reading HDF5 weights") == "/x/model.h5"
    with pytest.raises(UsageError) as e:
        textfiles.local_only("gs://b/model.safetensors", "reading safetensors")
    assert str(e.value) == ("gs://b/model.safetensors: reading safetensors needs a local path; "
                            "got a URL (copy it to a local directory first)")


def test_run_lock_on_ram_is_a_lock_file(ram):
    model_dir = textfiles.join(ram, "run")
    lock = run_lock.acquire(model_dir)
    path = textfiles.join(model_dir, run_lock.LOCK_FILE)
    assert json.loads(textfiles.read_text(path))["pid"] == os.getpid()
    assert run_lock.acquire(model_dir) is lock  # the same process shares it
    lock.release()
    assert not textfiles.exists(path)

    other = textfiles.join(ram, "held")  # a live holder (pid 1) on this host
    textfiles.makedirs(other)
    holder = {"pid": 1, "host": run_lock.socket.gethostname(), "since": 0}
    with textfiles.open_file(textfiles.join(other, run_lock.LOCK_FILE), "wb") as f:
        f.write(json.dumps(holder).encode())
    with pytest.raises(run_lock.RunLockedError, match="in use by pid 1"):
        run_lock.acquire(other)


def test_missing_remote_inputs_fail_in_one_line(ram, capsys):
    config = textfiles.join(ram, "nope.yaml")
    assert main(["train", "--config", config, "--model_dir", textfiles.join(ram, "run")]) == 2
    assert capsys.readouterr().err.strip() == f"bert2bert: config error: file not found: {config}"
    assert main(["evaluate", "--model_dir", textfiles.join(ram, "run")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{ram}/run/config.yaml: missing" in err


@pytest.mark.slow
def test_a_tf1_checkpoint_on_ram_is_detected_and_read(bert_tf1, ram):
    from bert2bert.checkpoints import open_checkpoint

    remote = textfiles.join(ram, "uncased_L-2_H-32_A-4")
    textfiles.copy_tree(bert_tf1.directory, remote)
    local, url = open_checkpoint(bert_tf1.directory), open_checkpoint(remote)
    assert url.format_name == local.format_name == "bert_tf1"
    assert url.config == local.config and url.lowercase is local.lowercase is True
    assert url.vocab_files == {"vocab_txt": textfiles.join(remote, "vocab.txt")}
    name = "bert/embeddings/word_embeddings"
    assert (url.read(name) == local.read(name)).all()
    assert url.tokenizer().vocab_size == local.tokenizer().vocab_size


# ------------------------------------------------------------------ the whole cycle


def copy_to_ram(tiny_smoke: str, ram: str) -> str:
    """tiny_smoke's checkpoint, data and config on ram:// (the config naming ram:// paths)."""
    local = os.path.dirname(tiny_smoke)
    textfiles.copy_tree(local, textfiles.join(ram, "in"))
    with open(tiny_smoke, encoding="utf-8") as f:
        text = f.read().replace(local, textfiles.join(ram, "in"))
    assert "ram://" in yaml.safe_load(text)["task"]["data_files"]["train"]
    config = textfiles.join(ram, "in", "tiny_smoke.yaml")
    atomic.write_text(config, text)
    return config


@pytest.mark.slow
def test_train_evaluate_export_predict_with_every_path_on_ram(tiny_smoke, ram, tmp_path,
                                                              monkeypatch, capsys):
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)  # a relative local write would land here
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # and a Python temp file here
    config = copy_to_ram(tiny_smoke, ram)
    run, export, out = (textfiles.join(ram, n) for n in ("run", "export", "out"))
    sets = sum((["--set", s] for s in QUICK), [])

    assert main(["train", "--config", config, "--model_dir", run, *sets]) == 0
    assert main(["evaluate", "--model_dir", run, "--max_examples", "4"]) == 0
    assert main(["export", "--model_dir", run, "--output", export]) == 0
    source = textfiles.join(ram, "in", "validation.tsv")
    predictions = textfiles.join(out, "predictions.txt")
    assert main(["predict", "--saved_model", textfiles.join(export, "1"), "--input", source,
                 "--output", predictions]) == 0
    printed = capsys.readouterr().out

    # the run directory, on ram://
    names = set(textfiles.listdir(run))
    assert {"config.yaml", "warm_start.json", "precision.json", "checkpoint", "ckpt-1.index",
            "vocab", "train", "eval"} <= names
    assert not any(n.startswith(".") for n in names)  # no lock, no temp file left
    saved = yaml.safe_load(textfiles.read_text(textfiles.join(run, "config.yaml")))
    assert saved["task"]["data_files"]["train"] == textfiles.join(ram, "in", "train.tsv")
    assert json.loads(textfiles.read_text(textfiles.join(run, "vocab", "vocab.json")))[
        "source"]["files"] == {"vocab_txt": "vocab/source/vocab.txt"}
    assert textfiles.read_bytes(textfiles.join(run, "vocab", "source", "vocab.txt")) == \
        textfiles.read_bytes(textfiles.join(ram, "in", "uncased_L-2_H-32_A-4", "vocab.txt"))
    # the evaluation outputs
    results = json.loads(textfiles.read_text(textfiles.join(run, "eval", "results-1.json")))
    assert results["checkpoint"] == textfiles.join(run, "ckpt-1") and results["examples"] == 4
    evaluated = textfiles.read_text(textfiles.join(run, "eval", "predictions-1.txt"))
    assert len(evaluated.splitlines()) == 4
    # the export: a complete SavedModel with its metadata
    assert textfiles.isfile(textfiles.join(export, "1", "saved_model.pb"))
    meta = json.loads(textfiles.read_text(textfiles.join(export, "1", "assets.extra",
                                                         "bert2bert.json")))
    assert meta["run"]["model_dir"] == run and meta["decode"]["beam_size"] == 1
    # the predictions: one per input line, and the bytes a local export and paths give
    remote_bytes = textfiles.read_bytes(predictions)
    lines = textfiles.read_text(source).splitlines()
    assert remote_bytes.decode("utf-8").count("\n") == len(lines) == 24
    assert f"wrote 24 predictions to {predictions}" in printed
    local_export = str(tmp_path / "export_copy")
    textfiles.copy_tree(textfiles.join(export, "1"), local_export)
    local_input, local_output = tmp_path / "validation.tsv", tmp_path / "predictions.txt"
    local_input.write_bytes(textfiles.read_bytes(source))
    assert main(["predict", "--saved_model", local_export, "--input", str(local_input),
                 "--output", str(local_output)]) == 0
    assert local_output.read_bytes() == remote_bytes

    # nothing went through os/open to a local path: nothing in the cwd (not even an empty
    # "ram:/..." folder), and in the temp folder only TensorFlow's own autograph modules (it
    # writes those for local runs too)
    assert [n for n in os.listdir(tmp) if not n.startswith("__autograph_generated_file")] == []
    assert os.listdir(cwd) == []
