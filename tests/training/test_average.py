"""`bert2bert average`: the mean of a run's newest checkpoints, as a new run directory."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.checkpoints import CheckpointError
from bert2bert.config import load_config
from bert2bert.training import run_dir

pytestmark = pytest.mark.slow  # a tiny run (a few seconds)


def _floats(model):
    return [v.numpy() for v in model.weights if keras.backend.is_float_dtype(v.dtype)]


@pytest.fixture(scope="module")
def run_with_three_checkpoints(tiny_smoke, tmp_path_factory):
    """ckpt-0 (warm-started), ckpt-1 (the same weights), ckpt-2 (every float weight + 1)."""
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke, ["train.batch_size=2", "task.max_source_length=16",
                                   "task.max_target_length=8", "model.dtype_policy=float32"])
    model_dir = str(tmp_path_factory.mktemp("avg") / "run")
    train(cfg, model_dir, stop_after=0, save_initial=True, progress=False)
    trained = run_dir.restore_model(model_dir, 0)
    model = trained.model
    checkpoint = tf.train.Checkpoint(model=model)
    manager = tf.train.CheckpointManager(checkpoint, model_dir, max_to_keep=None,
                                         checkpoint_name="ckpt")
    original = _floats(model)
    manager.save(checkpoint_number=1)
    for v in model.weights:
        if keras.backend.is_float_dtype(v.dtype):
            v.assign_add(tf.ones_like(v))
    manager.save(checkpoint_number=2)
    return model_dir, original


def test_average_of_identical_checkpoints_is_the_checkpoint(run_with_three_checkpoints,
                                                           tmp_path):
    import shutil

    from bert2bert.cli import main

    model_dir, original = run_with_three_checkpoints
    two = str(tmp_path / "run")  # the run without ckpt-2: its newest two are identical
    shutil.copytree(model_dir, two, ignore=shutil.ignore_patterns("ckpt-2.*"))
    output = str(tmp_path / "avg")
    assert main(["average", "--model_dir", two, "--last", "2", "--output", output]) == 0
    averaged = run_dir.restore_model(output)
    for a, b in zip(_floats(averaged.model), original):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)
    assert averaged.step == 1
    info = json.load(open(os.path.join(output, "averaged.json")))
    assert [os.path.basename(c) for c in info["checkpoints"]] == ["ckpt-0", "ckpt-1"]


def test_average_of_two_is_their_mean(run_with_three_checkpoints, tmp_path):
    from bert2bert.training.average import average_checkpoints

    model_dir, original = run_with_three_checkpoints
    output = str(tmp_path / "avg2")
    average_checkpoints(model_dir, 2, output)  # ckpt-1 (w) and ckpt-2 (w + 1): w + 0.5
    averaged = run_dir.restore_model(output)
    assert averaged.step == 2 and run_dir.is_run(output)
    for a, w in zip(_floats(averaged.model), original):
        np.testing.assert_allclose(a, w + 0.5, rtol=0, atol=1e-6)
    identical = str(tmp_path / "avg3")
    average_checkpoints(model_dir, 3, identical)  # w, w, w + 1
    for a, w in zip(_floats(run_dir.restore_model(identical).model), original):
        np.testing.assert_allclose(a, w + 1 / 3, rtol=0, atol=1e-6)


def test_average_checks_before_reading(run_with_three_checkpoints, tmp_path):
    from bert2bert.training.average import average_checkpoints

    model_dir, _ = run_with_three_checkpoints
    with pytest.raises(CheckpointError, match=r"3 complete checkpoint\(s\) \(\[0, 1, 2\]\); "
                                              r"--last 4 needs as many"):
        average_checkpoints(model_dir, 4, str(tmp_path / "x"))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        average_checkpoints(model_dir, 2, str(busy))
    assert (busy / "keep.txt").read_text() == "mine" and len(os.listdir(busy)) == 1
