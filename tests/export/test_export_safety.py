"""No silent overwrites, atomic outputs, the same checkpoint fallback as training: predict,
export, evaluate and warm-start (issue 10)."""
import errno
import hashlib
import logging
import os
import shutil

import pytest
import tensorflow as tf

from bert2bert.cli import main
from bert2bert.config import TaskConfig
from bert2bert import atomic
from bert2bert.training import run_dir
from tests.export.conftest import MAX_SOURCE, MAX_TARGET, make_run
from tests.helpers import REPO

SOURCES = b"the first line .\nanother line\n"


def snapshot(folder):
    """{relative path: sha256} of every file under `folder`."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def one_line_error(capsys, *words):
    """The error is one line (after any progress bar), no traceback."""
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ln.startswith("bert2bert: ")]
    assert len(lines) == 1 and err.endswith(lines[0]) and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], err
    return lines[0]


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture(scope="module")
def run_with_truncated_newest(tmp_path_factory):
    """A tiny run with ckpt-7 and a newer ckpt-9 whose data file is cut in half, and a TSV
    validation split so that it can be evaluated."""
    base = tmp_path_factory.mktemp("safety")
    model_dir = make_run(str(base / "run"))
    data = base / "dev.tsv"
    data.write_text("the cat sat .\tthe cat sat .\na dog ran .\ta dog ran .\n")
    config = run_dir.load_run_config(model_dir)
    config.task = TaskConfig(name="dev", file_format="tsv", data_files={"validation": str(data)},
                             source_key="0", target_key="1", max_source_length=MAX_SOURCE,
                             max_target_length=MAX_TARGET, metrics=["exact"])
    run_dir.save_config(model_dir, config)
    for name in os.listdir(model_dir):
        if name.startswith("ckpt-7."):
            shutil.copyfile(os.path.join(model_dir, name),
                            os.path.join(model_dir, name.replace("ckpt-7", "ckpt-9")))
    shard = os.path.join(model_dir, "ckpt-9.data-00000-of-00001")
    with open(shard, "r+b") as f:
        f.truncate(os.path.getsize(shard) // 2)
    return model_dir


# ------------------------------------------------------------------ fallback


@pytest.mark.slow
def test_evaluate_and_predict_fall_back_from_a_truncated_newest_checkpoint(
        run_with_truncated_newest, tmp_path, caplog, capsys):
    from bert2bert.evaluation import evaluate

    model_dir = run_with_truncated_newest
    with caplog.at_level(logging.WARNING, logger="bert2bert"):
        results = evaluate(model_dir, progress=False)
    assert results["step"] == 7 and results["checkpoint"].endswith("ckpt-7")
    assert "fell back to" in caplog.text and "ckpt-9" in caplog.text
    caplog.clear()
    source = tmp_path / "in.txt"
    source.write_bytes(SOURCES)
    with caplog.at_level(logging.WARNING, logger="bert2bert"):
        assert main(["predict", "--model_dir", model_dir, "--input", str(source),
                     "--output", str(tmp_path / "out.txt")]) == 0
    assert "fell back to" in caplog.text and f"{os.sep}ckpt-7" in caplog.text
    assert len((tmp_path / "out.txt").read_text().splitlines()) == 2
    # An explicit corrupt checkpoint is a one-line error, for each command.
    capsys.readouterr()
    assert main(["evaluate", "--model_dir", model_dir, "--checkpoint", "9"]) == 2
    one_line_error(capsys, "ckpt-9", "cannot be read")
    assert main(["predict", "--model_dir", model_dir, "--checkpoint", "9", "--input",
                 str(source), "--output", str(tmp_path / "o9.txt")]) == 2
    one_line_error(capsys, "ckpt-9", "cannot be read")
    assert not (tmp_path / "o9.txt").exists()


@pytest.mark.slow
def test_export_falls_back_and_a_failed_export_leaves_no_version(
        run_with_truncated_newest, tmp_path, caplog, capsys, monkeypatch):
    model_dir, out = run_with_truncated_newest, tmp_path / "exports"
    with caplog.at_level(logging.WARNING, logger="bert2bert"):
        assert main(["export", "--model_dir", model_dir, "--output", str(out)]) == 0
    assert "fell back to" in caplog.text and "ckpt-9" in caplog.text
    meta = (out / "1" / "assets.extra" / "bert2bert.json").read_text()
    assert '"step": 7' in meta
    before = snapshot(out)

    real_save = tf.saved_model.save

    def save_then_disk_full(obj, path, signatures=None):
        os.makedirs(os.path.join(path, "variables"))
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"partial")
        disk_full()

    monkeypatch.setattr(tf.saved_model, "save", save_then_disk_full)
    capsys.readouterr()
    assert main(["export", "--model_dir", model_dir, "--output", str(out)]) == 2
    one_line_error(capsys, "export failed", "No space left on device", "no new version")
    assert sorted(os.listdir(out)) == ["1"]  # no partial version, no temp folder, no claim
    assert snapshot(out) == before
    monkeypatch.setattr(tf.saved_model, "save", real_save)


def test_version_numbers_are_claimed_exclusively(tmp_path):
    from bert2bert.export.saved_model import claimed_version

    (tmp_path / "1").mkdir()
    (tmp_path / ".claim-3").touch()  # a claim left by a killed export
    with claimed_version(str(tmp_path)) as a, claimed_version(str(tmp_path)) as b:
        assert (os.path.basename(a), os.path.basename(b)) == ("2", "4")
        with pytest.raises(FileExistsError, match="exists"):
            with claimed_version(str(tmp_path), 2):
                pass
    with pytest.raises(FileExistsError, match="exists"):
        with claimed_version(str(tmp_path), 1):
            pass
    assert sorted(os.listdir(tmp_path)) == [".claim-3", "1"]


# ------------------------------------------------------------------ predict: no overwrites


@pytest.mark.slow
def test_predict_refuses_to_overwrite(run_with_truncated_newest, tmp_path, capsys, monkeypatch):
    model_dir = run_with_truncated_newest
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_bytes(SOURCES)
    out.write_bytes(b"precious\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    os.symlink(source, tmp_path / "link.txt")
    before = snapshot(tmp_path)
    predict = ["predict", "--model_dir", model_dir, "--checkpoint", "7"]
    cases = [(["--input", str(source), "--output", str(out)], "exists", "--overwrite"),
             (["--input", str(tmp_path / "empty.txt"), "--output", str(out)], "exists"),
             (["--input", str(source), "--output", str(source)], "is the --input file"),
             (["--input", str(source), "--output", str(source), "--overwrite"],
              "is the --input file"),
             (["--input", str(tmp_path / "link.txt"), "--output", str(source), "--overwrite"],
              "is the --input file")]
    for args, *words in cases:
        assert main(predict + args) == 2, args
        one_line_error(capsys, *words)
        assert snapshot(tmp_path) == before, args

    monkeypatch.setattr(atomic, "_fsync", disk_full)  # the data is written, then the disk fills
    assert main(predict + ["--input", str(source), "--output", str(out), "--overwrite"]) == 2
    one_line_error(capsys, "predict failed", "No space left on device", "unchanged")
    assert snapshot(tmp_path) == before  # no temp file left either
    monkeypatch.undo()

    assert main(predict + ["--input", str(source), "--output", str(out), "--overwrite"]) == 0
    assert len(out.read_text().splitlines()) == 2


# ------------------------------------------------------------------ continuous evaluation


@pytest.mark.slow
def test_continuous_evaluation_skips_a_deleted_checkpoint_and_rereads_train_steps(
        run_with_truncated_newest, monkeypatch, capsys):
    from bert2bert import evaluation

    model_dir = run_with_truncated_newest
    saved = run_dir.load_run_config(model_dir)

    def checkpoints(directory, timeout):
        yield os.path.join(directory, "ckpt-5")  # deleted by keep_checkpoints meanwhile
        config = run_dir.load_run_config(model_dir)
        config.train.train_steps = 7  # a resumed run changed it
        run_dir.save_config(model_dir, config)
        yield os.path.join(directory, "ckpt-7")
        raise AssertionError("evaluation should have stopped at the run's new train_steps")

    monkeypatch.setattr(evaluation.tf.train, "checkpoints_iterator", checkpoints)
    try:
        results = evaluation.evaluate_continuously(model_dir, timeout=1)
    finally:
        run_dir.save_config(model_dir, saved)
    assert [r["step"] for r in results] == [7]
    assert "skipped" in capsys.readouterr().out


# ------------------------------------------------------------------ warm-start


@pytest.mark.slow
def test_warm_start_refuses_a_non_empty_output_and_writes_the_resolved_config(tmp_path, capsys):
    smoke = os.path.join(REPO, "configs", "experiments", "smoke.yaml")
    out = tmp_path / "ws"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    assert main(["warm-start", "--config", smoke, "--output", str(out)]) == 2
    one_line_error(capsys, "not empty", "--overwrite")
    assert snapshot(out) == before
    assert main(["warm-start", "--config", smoke, "--output", str(out), "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine\n"
    assert {"config.yaml", "warm_start.json", "model.keras"} <= set(os.listdir(out))
    config = run_dir.load_run_config(str(out))
    assert config.model.encoder.hidden_size == 384 and config.model.decoder.num_layers == 2
    assert not [n for n in os.listdir(out) if atomic.is_temp_name(n)]
