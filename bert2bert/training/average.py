"""Checkpoint averaging, as t2t's `t2t-avg-all` and Estimator users do it: the mean of the
model weights of a run's newest N checkpoints, written as a new run directory.

    average_checkpoints("runs/wikisplit", last=5, output="runs/wikisplit-avg5")

The new directory has the run's config.yaml and vocab/, one checkpoint `ckpt-<newest step>`
holding the averaged model and the step, and `averaged.json` (which checkpoints went in).
evaluate, predict and export read it like any run; training it further starts a fresh
optimizer there. Integer state (dropout seeds) is the newest checkpoint's.
"""
from typing import List

import keras
import numpy as np
import tensorflow as tf

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError
from bert2bert.errors import UsageError
from bert2bert.factory import model_of_run
from bert2bert import atomic
from bert2bert.training import run_dir


def _restore(checkpoint: tf.train.Checkpoint, prefix: str) -> None:
    try:
        checkpoint.restore(prefix).expect_partial().assert_existing_objects_matched()
    except Exception as e:  # noqa: BLE001 - corrupt files raise many types
        raise CheckpointError(f"{prefix}: cannot be read ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]})") from None


def average_checkpoints(model_dir: str, last: int, output: str) -> str:
    """Writes the mean of the newest `last` complete checkpoints of `model_dir` to the new
    run directory `output`; returns its checkpoint prefix. Checks come first: a `last` the
    run cannot give, or an `output` that is not empty, fail in one line before any reading."""
    if last < 1:
        raise UsageError(f"--last {last}: must be at least 1")
    numbers = run_dir.scan_checkpoints(model_dir)[0]
    if len(numbers) < last:
        raise CheckpointError(f"{model_dir}: {len(numbers)} complete checkpoint(s) "
                              f"({numbers or 'none'}); --last {last} needs as many")
    if textfiles.exists(output) and (not textfiles.isdir(output) or textfiles.listdir(output)):
        raise FileExistsError(f"{output} exists and is not empty; give a new --output "
                              "(nothing is overwritten)")
    config = run_dir.load_run_config(model_dir)
    vocabularies = run_dir.load_vocabularies(model_dir)
    model = model_of_run(config)
    reader = tf.train.Checkpoint(model=model)
    chosen = [textfiles.join(model_dir, f"ckpt-{n}") for n in numbers[-last:]]
    floats = [v for v in model.weights if keras.backend.is_float_dtype(v.dtype)]
    sums: List[np.ndarray] = [np.zeros(v.shape, np.float64) for v in floats]
    for prefix in chosen:
        _restore(reader, prefix)  # the newest comes last: its integer state stays
        for total, v in zip(sums, floats):
            total += v.numpy().astype(np.float64)
    for total, v in zip(sums, floats):
        v.assign((total / last).astype(v.numpy().dtype))
    textfiles.makedirs(output)
    run_dir.save_vocabularies(output, vocabularies)
    step = tf.Variable(numbers[-1], dtype=tf.int64, trainable=False, name="global_step")
    seeds = [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]
    checkpoint = tf.train.Checkpoint(model=model, seeds=seeds, step=step)
    manager, _ = run_dir.open_checkpoints(checkpoint, output, max_to_keep=None)
    prefix = manager.save(checkpoint_number=numbers[-1])
    atomic.write_json(textfiles.join(output, "averaged.json"),
                     {"from": textfiles.absolute(model_dir), "checkpoints": chosen,
                      "step": numbers[-1]})
    run_dir.save_config(output, config)  # last: marks the directory as a run
    return prefix
