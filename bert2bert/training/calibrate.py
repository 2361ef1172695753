"""How long one training update of a run takes on this machine, and how many fit a budget.

    seconds = seconds_per_update(config, "runs/demo/model")   # times the run's own step
    steps = steps_for_budget(seconds, minutes=7, least=100, most=500)

The timing uses the run's newest checkpoint, its vocabularies and the real `TrainStep` on
real training batches, in the run's dtype policy; nothing is written to the run directory.
"""
import dataclasses
import math
import statistics
import time

import keras
import tensorflow as tf

from bert2bert.config import Config
from bert2bert.training import run_dir
from bert2bert.training.loop import datasets_for
from bert2bert.training.optimizer import build_optimizer
from bert2bert.training.step import TrainStep


def seconds_per_update(config: Config, model_dir: str, warmup: int = 3, timed: int = 6) -> float:
    """The median wall time of `timed` updates after `warmup` (tracing) updates."""
    trained = run_dir.restore_model(model_dir)
    model, tcfg = trained.model, config.train
    optimizer = build_optimizer(config.optimizer, model.spec.decoder.hidden_size,
                                tcfg.train_steps, trained.config.model.dtype_policy,
                                clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)
    step = TrainStep(model, optimizer, tf.distribute.get_strategy(), tcfg.label_smoothing,
                     config.optimizer.clip_norm, tcfg.jit_compile,
                     tcfg.gradient_accumulation_steps)
    dataset = datasets_for(dataclasses.replace(config, model=trained.config.model),
                           run_dir.load_vocabularies(model_dir), "train", tcfg.batch_size,
                           training=True,
                           start_id=model.spec.start_id(trained.target_tokenizer.special_tokens))
    batches = iter(dataset)
    times = []
    for i in range(warmup + timed):
        tic = time.perf_counter()
        float(step(batches).loss)
        if i >= warmup:
            times.append(time.perf_counter() - tic)
    del model, optimizer, step
    keras.backend.clear_session()
    return statistics.median(times)


def steps_for_budget(seconds_per_step: float, minutes: float, least: int, most: int,
                     multiple: int = 10) -> int:
    """The updates that fit `minutes`, rounded down to `multiple`, within [least, most]."""
    fit = math.floor(minutes * 60.0 / max(seconds_per_step, 1e-6) / multiple) * multiple
    return int(min(most, max(least, fit)))
