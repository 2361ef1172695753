"""`train.steps_per_loop`: N updates inside one tf.function (a tf.while_loop over the
iterator) must do exactly what N single updates do; checkpoints, evaluation and the NaN stop
fall between loops, and every update is still logged and named."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import OptimizerConfig, load_config
from bert2bert.training.optimizer import build_optimizer
from bert2bert.training.step import TrainStep
from tests.helpers import tiny_model
from tests.training.test_accumulation import QUICK, assert_same_updates, batches
from tests.training.test_training_runs import final_weights, poison_the_loss

OPTIMIZER = OptimizerConfig(name="adamw", schedule="linear", learning_rate=1e-3, warmup_steps=2,
                            scale_by_hidden_size=False, weight_decay=0.01, clip_norm=0.5)


def updates(loops, accumulation=2):
    """Runs 6 updates (micro-batches of 4) as `loops` (sizes of each `run` call); returns
    ([loss, norm, lr, examples] per update, weights, traces of each step function)."""
    model = tiny_model("bert2bert", seed=3)
    optimizer = build_optimizer(OPTIMIZER, 32, 6, "float32", clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)
    step = TrainStep(model, optimizer, tf.distribute.get_strategy(), clip_norm=0.5,
                     accumulation=accumulation)
    parts = batches(model, 6 * accumulation, 4)  # read in the graph: a tf.data iterator
    data = iter(tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(
        lambda *t: tf.stack(t), *parts)))
    rows = []
    for count in loops:
        result = step.run(data, count)
        assert result.loss.shape == (count,)
        rows += np.stack([result.loss.numpy(), result.gradient_norm.numpy(),
                          result.learning_rate.numpy(),
                          result.examples.numpy().astype("float32")], 1).tolist()
    weights = {v.path: v.numpy() for v in model.trainable_variables}
    assert int(optimizer.iterations.numpy()) == 6
    keras.backend.clear_session()
    return np.array(rows), weights, dict(step.traces)


@pytest.mark.slow
def test_a_loop_of_updates_equals_single_updates():
    """With 2 micro-batches per update (the run test below covers one). The shorter loops
    after the first (1 update: a run's last loop before a checkpoint) reuse the traced loop."""
    single, weights_single, single_traces = updates([1] * 6)
    looped, weights_looped, looped_traces = updates([4, 1, 1])
    assert single_traces["update"] == 1 and not single_traces.get("loop"), single_traces
    # (the loop's trace runs the update's Python body once inside it)
    assert looped_traces["loop"] == 1 and looped_traces["update"] == 1, looped_traces
    np.testing.assert_allclose(looped, single, rtol=1e-5)
    assert (single[:, 3] == 8).all()  # examples per update
    assert single[0, 2] == pytest.approx(5e-4) and single[1, 2] == pytest.approx(1e-3)
    # 6 Adam steps of lr 1e-3: summation-order rounding moves a few elements by ~1e-5
    assert_same_updates(weights_single, weights_looped, atol=5e-5)


@pytest.mark.slow
def test_a_loop_needs_an_iterator_the_graph_can_read():
    model = tiny_model("bert2bert", seed=3)
    optimizer = build_optimizer(OPTIMIZER, 32, 6, "float32", clip_in_optimizer=False)
    step = TrainStep(model, optimizer, tf.distribute.get_strategy())
    with pytest.raises(TypeError, match="tf.data or distributed iterator, not list_iterator"):
        step.run(iter([]), 2)
    keras.backend.clear_session()


def _scalars(event_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(event_dir)
    events.Reload()
    return {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)}


@pytest.mark.slow
def test_a_run_in_loops_equals_one_step_at_a_time(tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    overrides = QUICK + ["train.train_steps=7", "train.checkpoint_every=5",
                         "train.gradient_accumulation_steps=1"]
    single = train(load_config(tiny_smoke, overrides), str(tmp_path / "single"), progress=False)
    looped = train(load_config(tiny_smoke, overrides + ["train.steps_per_loop=3"]),
                   str(tmp_path / "looped"), progress=False)
    np.testing.assert_allclose(looped.losses, single.losses, rtol=1e-5)
    assert looped.final_step == 7
    # loops 1-3, 4-5 (a checkpoint at 5), 6-7: the checkpoints of the one-step run
    assert tf.train.get_checkpoint_state(str(tmp_path / "looped")).all_model_checkpoint_paths[
        -2:] == [str(tmp_path / "looped" / "ckpt-5"), str(tmp_path / "looped" / "ckpt-7")]
    assert_same_updates(final_weights(str(tmp_path / "single")),
                        final_weights(str(tmp_path / "looped")), atol=1e-6)
    logged = _scalars(str(tmp_path / "looped" / "train"), "loss")  # log_every=1: every update
    assert sorted(logged) == list(range(1, 8))
    np.testing.assert_allclose([logged[k] for k in range(1, 8)], single.losses, rtol=1e-5)


@pytest.mark.slow
def test_the_nan_stop_names_the_update_inside_a_loop(tiny_smoke, tmp_path, monkeypatch):
    from bert2bert.training import loop

    poison_the_loss(monkeypatch, 5)
    model_dir = str(tmp_path / "run")
    config = load_config(tiny_smoke, QUICK + ["train.gradient_accumulation_steps=1",
                                               "train.steps_per_loop=4",
                                               "train.checkpoint_every=4",
                                               "train.train_steps=8"])
    with pytest.raises(loop.NonFiniteLossError, match=r"at step 6; .*ckpt-4"):
        loop.train(config, model_dir, progress=False)
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-4")
    assert not os.path.exists(os.path.join(model_dir, "ckpt-8.index"))
