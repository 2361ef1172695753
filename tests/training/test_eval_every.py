"""`--eval_every N` evaluates every N updates, saving a checkpoint there when needed."""
import os

import pytest

from bert2bert.config import load_config

pytestmark = pytest.mark.slow


def test_eval_every_7_with_checkpoint_every_10(tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke, ["train.train_steps=15", "train.eval_every=7",
                              "train.checkpoint_every=10", "train.keep_checkpoints=10",
                              "train.batch_size=2", "task.max_source_length=16",
                              "task.max_target_length=8"])
    model_dir = str(tmp_path / "run")
    evaluated = []

    def evaluate_fn(directory, step):
        assert os.path.exists(os.path.join(directory, f"ckpt-{step}.index"))  # saved first
        evaluated.append(step)

    train(cfg, model_dir, progress=False, evaluate_fn=evaluate_fn)
    assert evaluated == [7, 14, 15]  # every 7 updates, and the last one
    saved = sorted(int(n[5:-6]) for n in os.listdir(model_dir) if n.endswith(".index"))
    assert saved == [7, 10, 14, 15]
