"""The demo's time budget: a measured update time, and the updates that fit."""
import os

import pytest

from bert2bert.config import load_config
from bert2bert.training.calibrate import steps_for_budget


@pytest.mark.parametrize("seconds, minutes, expected", [
    (1.0, 6, 360),     # 360 fit
    (0.5, 6, 500),     # 720 fit: the config's maximum
    (2.83, 6, 150),    # 127 fit: the floor
    (1.37, 6, 260),    # 262.8 fit: rounded down to a multiple of 10
])
def test_steps_for_budget(seconds, minutes, expected):
    assert steps_for_budget(seconds, minutes, least=150, most=500) == expected


@pytest.mark.slow
def test_seconds_per_update_times_the_run_without_touching_it(tiny_smoke, tmp_path):
    from bert2bert.training.calibrate import seconds_per_update
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke,  # smoke.yaml on a tiny checkpoint
                      ["train.batch_size=2", "task.max_source_length=16",
                       "task.max_target_length=8"])
    model_dir = str(tmp_path / "run")
    train(cfg, model_dir, stop_after=0, save_initial=True, progress=False)
    before = {n: os.path.getmtime(os.path.join(model_dir, n)) for n in os.listdir(model_dir)}
    seconds = seconds_per_update(cfg, model_dir, warmup=1, timed=2)
    assert 0 < seconds < 60
    after = {n: os.path.getmtime(os.path.join(model_dir, n)) for n in os.listdir(model_dir)}
    assert after == before  # nothing written to the run directory
