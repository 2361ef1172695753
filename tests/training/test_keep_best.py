"""`train.keep_best`: the checkpoint with the best evaluation metric is kept in best/ through
later deletions by keep_checkpoints, and `export --best` (restore_model(best=True)) reads it."""
import json
import os

import keras
import numpy as np
import pytest

from bert2bert.config import load_config
from bert2bert.errors import UsageError
from bert2bert.training import run_dir

pytestmark = pytest.mark.slow  # tiny training runs

SCORES = {2: 10.0, 4: 30.0, 6: 20.0, 8: 5.0}  # what the fake evaluation says at each step


def _floats(model):
    return [v.numpy() for v in model.weights if keras.backend.is_float_dtype(v.dtype)]


def _run(tiny_smoke, model_dir, mode):
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke, [
        "train.train_steps=8", "train.eval_every=2", "train.checkpoint_every=2",
        "train.keep_checkpoints=1", "train.batch_size=2", "task.max_source_length=16",
        "task.max_target_length=8", "train.keep_best.metric=sari",
        f"train.keep_best.mode={mode}"])
    weights = {}

    def evaluate_fn(directory, step):
        weights[step] = _floats(run_dir.restore_model(directory, step).model)
        return {"sari": SCORES[step], "bleu": 0.0}

    train(cfg, model_dir, progress=False, evaluate_fn=evaluate_fn)
    return weights


@pytest.fixture(scope="module")
def max_run(tiny_smoke, tmp_path_factory):
    """(model_dir, weights at each evaluation) of the keep_best mode=max run, shared by the
    two tests that read it (neither changes it)."""
    model_dir = str(tmp_path_factory.mktemp("keep_best_max") / "run")
    return model_dir, _run(tiny_smoke, model_dir, "max")


@pytest.mark.parametrize("mode,best", [("max", 4), ("min", 8)])
def test_the_best_checkpoint_survives_keep_checkpoints(tiny_smoke, tmp_path, mode, best,
                                                      request):
    if mode == "max":
        model_dir, weights = request.getfixturevalue("max_run")
    else:
        model_dir = str(tmp_path / "run")
        weights = _run(tiny_smoke, model_dir, mode)
    assert run_dir.scan_checkpoints(model_dir)[0] == [8]  # keep_checkpoints=1 deleted the rest
    kept = sorted(os.listdir(os.path.join(model_dir, "best")))
    assert kept == ["best.json", f"ckpt-{best}.data-00000-of-00001", f"ckpt-{best}.index"]
    record = json.load(open(os.path.join(model_dir, "best", "best.json")))
    assert record == {"metric": "sari", "mode": mode, "value": SCORES[best], "step": best}
    restored = run_dir.restore_model(model_dir, best=True)
    assert restored.step == best
    for a, b in zip(_floats(restored.model), weights[best]):
        np.testing.assert_array_equal(a, b)
    if mode == "max":  # the weights really moved between evaluations
        assert any(not np.array_equal(a, b) for a, b in zip(weights[4], weights[8]))


def test_export_best_reads_the_kept_checkpoint(max_run):
    from bert2bert.export.saved_model import generator_for_run

    model_dir, weights = max_run
    gen = generator_for_run(model_dir, best=True)
    for a, b in zip(_floats(gen.model), weights[4]):
        np.testing.assert_array_equal(a, b)


def test_keep_best_needs_evaluations(tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke, ["train.keep_best.metric=sari"])
    with pytest.raises(UsageError, match="train.keep_best needs evaluations"):
        train(cfg, str(tmp_path / "run"), progress=False)
    assert not os.path.exists(tmp_path / "run")
