"""Learning-rate schedules equal their formulas; the optimizer follows the config."""
import math

import keras
import pytest

from bert2bert.config import OptimizerConfig
from bert2bert.training.optimizer import build_optimizer
from bert2bert.training.schedule import LinearSchedule, PaperRsqrtSchedule


def paper_lr(step, base=0.05, warmup=40000, hidden=768):
    s = step + 1
    return base / math.sqrt(hidden) * min(s / warmup, 1.0) * math.sqrt(warmup / max(s, warmup))


@pytest.mark.parametrize("step", [0, 1, 999, 39998, 39999, 40000, 100000, 399999])
def test_paper_schedule_equals_formula(step):
    schedule = PaperRsqrtSchedule(0.05, 40000, hidden_size=768)
    assert float(schedule(step)) == pytest.approx(paper_lr(step), rel=1e-6)


def test_paper_schedule_peaks_at_warmup_and_decays_by_sqrt():
    schedule = PaperRsqrtSchedule(0.05, 40000, hidden_size=768)
    peak = float(schedule(39999))
    assert peak == pytest.approx(0.05 / math.sqrt(768), rel=1e-6)
    assert float(schedule(4 * 40000 - 1)) == pytest.approx(peak / 2, rel=1e-6)
    assert float(PaperRsqrtSchedule(0.05, 10, None)(9)) == pytest.approx(0.05)


@pytest.mark.parametrize("step,expected", [(0, 0.1), (9, 1.0), (10, (100 - 11) / 90),
                                           (54, (100 - 55) / 90), (99, 0.0), (150, 0.0)])
def test_linear_schedule(step, expected):
    assert float(LinearSchedule(1.0, 10, 100)(step)) == pytest.approx(expected, abs=1e-6)


def test_build_optimizer_from_config():
    adam = build_optimizer(OptimizerConfig(), hidden_size=768, total_steps=1000)
    assert isinstance(adam, keras.optimizers.Adam)
    assert isinstance(adam.learning_rate, PaperRsqrtSchedule) or callable(adam._learning_rate)
    adamw = build_optimizer(OptimizerConfig(name="adamw", schedule="linear", learning_rate=1e-4,
                                            weight_decay=0.01, clip_norm=1.0),
                            hidden_size=64, total_steps=100)
    assert isinstance(adamw, keras.optimizers.AdamW)
    assert adamw.global_clipnorm == 1.0
    assert not adamw.gradient_accumulation_steps  # accumulation is the training step's job
    scaled = build_optimizer(OptimizerConfig(), 64, 100, dtype_policy="mixed_float16")
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
