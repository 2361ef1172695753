"""Crash-safe, locked run directories (issue 10): a kill during the first checkpoint save, a
lost `checkpoint` file, a full disk, two trainers at once, foreign files, a changed config.

Runs train smoke.yaml's tiny twin (`tiny_smoke`: a 32-wide BERT checkpoint, TSV data)
through the CLI's `main` in this process; only the trainers that get SIGKILLed (and so hold
a lock from another process) are subprocesses."""
import errno
import hashlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from bert2bert.cli import main
from bert2bert.config import load_config
from tests.helpers import REPO
from tests.training.test_training_runs import assert_same_weights, final_weights
# 4 steps, a checkpoint every 2: the first save is ckpt-2.
QUICK = ["train.train_steps=4", "train.checkpoint_every=2", "train.log_every=2",
         "train.batch_size=4", "task.max_source_length=24", "task.max_target_length=16"]
SETS = sum((["--set", o] for o in QUICK), [])
ENV = {"TF_DETERMINISTIC_OPS": "1"}
pytestmark = pytest.mark.xdist_group("run_safety")  # one worker runs `straight` for all


def checksums(folder, prefix="ckpt-"):
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith(prefix) and os.path.isfile(os.path.join(folder, name)):
            with open(os.path.join(folder, name), "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def everything(folder):
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                out[os.path.relpath(os.path.join(root, name), folder)] = f.read()
    return out


def last_error_line(err):
    """The one error line (progress bars aside), no traceback."""
    lines = [ln[ln.index("bert2bert: "):] for ln in re.split(r"[\r\n]", err)
             if "bert2bert: " in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def trainer(tiny_smoke, model_dir, hold_save):
    """A `bert2bert train` process on `model_dir` whose saves each wait `hold_save` seconds
    between writing `ckpt-N_temp/` and the merge (BERT2BERT_TEST_HOLD_SAVE)."""
    return subprocess.Popen([sys.executable, "-m", "bert2bert.cli", "train", "--config",
                             tiny_smoke, "--model_dir", model_dir, *SETS], cwd=REPO,
                            env=dict(os.environ, BERT2BERT_TEST_HOLD_SAVE=str(hold_save), **ENV),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def straight(tiny_smoke, tmp_path_factory):
    """The weights of an uninterrupted 4-step run."""
    model_dir = str(tmp_path_factory.mktemp("straight") / "run")
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS]) == 0
    return final_weights(model_dir, 4)


@pytest.mark.slow
def test_kill_during_the_first_save_then_rerun_warm_starts(tiny_smoke, straight, tmp_path,
                                                          capsys):
    """Also: a second trainer on the same directory is refused naming the holder; the
    killed trainer's stale lock is taken over loudly."""
    model_dir = str(tmp_path / "run")
    held = trainer(tiny_smoke, model_dir, hold_save=600)
    try:
        temp = os.path.join(model_dir, "ckpt-2_temp")
        deadline = time.time() + 300
        while not (os.path.isdir(temp) and any(n.endswith(".index") for n in os.listdir(temp))):
            assert held.poll() is None and time.time() < deadline, "no held save"
            time.sleep(0.05)
        capsys.readouterr()
        assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS]) == 2
        line = last_error_line(capsys.readouterr().err)
        assert f"in use by pid {held.pid} on" in line, line
    finally:
        held.send_signal(signal.SIGKILL)
        held.wait()
    assert not any(n.startswith("ckpt-2.") for n in os.listdir(model_dir))
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS]) == 0
    rerun = capsys.readouterr().out
    assert f"taking over the stale lock of {model_dir}: pid {held.pid}" in rerun
    assert "moved unfinished checkpoint files ckpt-2_temp" in rerun
    assert "warm start of bert2bert" in rerun and "resumed" not in rerun
    assert "ckpt-2_temp" not in os.listdir(model_dir)
    assert_same_weights(final_weights(model_dir, 4), straight, atol=1e-6)


@pytest.mark.slow
def test_lost_checkpoint_list_resumes_without_touching_checkpoints(tiny_smoke, straight,
                                                                   tmp_path, capsys):
    model_dir = str(tmp_path / "run")
    # Killed after its first checkpoint; its later saves wait 2 s before their merge (a tiny
    # step takes milliseconds): it is still running when ckpt-2 appears.
    proc = trainer(tiny_smoke, model_dir, hold_save=2)
    try:
        deadline = time.time() + 300
        while not os.path.exists(os.path.join(model_dir, "ckpt-2.index")):
            assert proc.poll() is None and time.time() < deadline, "no first checkpoint"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if os.path.exists(os.path.join(model_dir, "checkpoint")):
        os.remove(os.path.join(model_dir, "checkpoint"))
    before = checksums(model_dir)
    newest = max(int(n[5:-6]) for n in before if n.endswith(".index"))
    capsys.readouterr()
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS]) == 0
    rerun = capsys.readouterr().out
    assert f"resumed from {os.path.join(model_dir, f'ckpt-{newest}')} at step {newest}" in rerun
    after = checksums(model_dir)
    assert {k: after.get(k) for k in before} == before  # not a byte changed
    assert_same_weights(final_weights(model_dir, 4), straight, atol=1e-6)


@pytest.mark.slow
def test_disk_full_during_a_save_then_the_next_run_resumes(tiny_smoke, tmp_path, monkeypatch,
                                                           capsys):
    from tensorflow.python.ops import gen_io_ops

    from bert2bert.training.loop import train

    model_dir = str(tmp_path / "run")
    real_merge = gen_io_ops.merge_v2_checkpoints

    def merge(prefixes, prefix, **kwargs):  # the shards are written; the disk fills
        if prefix.numpy().decode().endswith("ckpt-4"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_merge(prefixes, prefix, **kwargs)

    monkeypatch.setattr(gen_io_ops, "merge_v2_checkpoints", merge)
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS]) == 2
    line = last_error_line(capsys.readouterr().err)
    assert "ckpt-4" in line and "No space left on device" in line and "ckpt-2 is intact" in line
    names = os.listdir(model_dir)
    assert "ckpt-2.index" in names and not [n for n in names if n.startswith("ckpt-4")]
    kept = checksums(model_dir)
    monkeypatch.undo()

    result = train(load_config(tiny_smoke, QUICK), model_dir, progress=False)
    assert (result.start_step, result.final_step) == (2, 4)
    assert f"resumed from {os.path.join(model_dir, 'ckpt-2')} at step 2" in capsys.readouterr().out
    assert checksums(model_dir)["ckpt-2.index"] == kept["ckpt-2.index"]

    # A plain rerun of the same command is a resume, never refused; a changed config is.
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS]) == 0
    before = everything(model_dir)
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS,
                 "--set", "optimizer.learning_rate=0.001"]) == 2
    line = last_error_line(capsys.readouterr().err)
    assert "optimizer.learning_rate: 0.0003 -> 0.001" in line and "--overwrite" in line
    assert everything(model_dir) == before
    # A longer run is a resume that updates the saved config (continuous eval reads it).
    assert main(["train", "--config", tiny_smoke, "--model_dir", model_dir, *SETS,
                 "--set", "train.train_steps=5"]) == 0
    assert load_config(os.path.join(model_dir, "config.yaml")).train.train_steps == 5


@pytest.mark.slow
def test_train_refuses_a_foreign_directory(tiny_smoke, tmp_path, capsys):
    model_dir = tmp_path / "mine"
    model_dir.mkdir()
    (model_dir / "config.yaml").write_text("model: {variant: bert2bert}  # hand-written\n")
    (model_dir / "notes.txt").write_text("do not lose\n")
    before = everything(str(model_dir))
    assert main(["train", "--config", tiny_smoke, "--model_dir", str(model_dir), *SETS]) == 2
    line = last_error_line(capsys.readouterr().err)
    assert "config.yaml, notes.txt" in line and "--overwrite" in line
    assert everything(str(model_dir)) == before
    assert main(["train", "--config", tiny_smoke, "--model_dir", str(model_dir), *SETS,
                 "--set", "train.train_steps=1", "--overwrite"]) == 0
    assert (model_dir / "notes.txt").read_text() == "do not lose\n"
    assert "ckpt-1.index" in os.listdir(model_dir)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    import json
    import socket

    from bert2bert.training import run_lock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / run_lock.LOCK_FILE).write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname(), "since": time.time()}))
    lock = run_lock.acquire(str(tmp_path))
    assert f"taking over the stale lock of {tmp_path}: pid {dead.pid}" in capsys.readouterr().out
    assert json.loads((tmp_path / run_lock.LOCK_FILE).read_text())["pid"] == os.getpid()
    assert run_lock.acquire(str(tmp_path)) is lock  # the same process shares its lock
    lock.release()
    assert not (tmp_path / run_lock.LOCK_FILE).exists()  # released: nothing left
