"""Gradient accumulation and loss scaling in TrainStep: N micro-batches make ONE update.

N micro-batches of 4 must give the same weights as one batch of 4N (same schedule, one clip
of the summed gradient, the loss normalised by the tokens of all N), with the learning rate
of update k equal to the schedule at k; a run stopped after update 2 and resumed must end
where an uninterrupted run ends; mixed_float16 must clip the UNSCALED gradient.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import OptimizerConfig, load_config
from bert2bert.training.optimizer import build_optimizer, learning_rate_schedule
from bert2bert.training.step import TrainStep
from tests.helpers import random_inputs, tiny_model
from tests.training.test_training_runs import assert_same_weights, final_weights

OPTIMIZER = OptimizerConfig(name="adamw", schedule="linear", learning_rate=1e-3, warmup_steps=2,
                            scale_by_hidden_size=False, weight_decay=0.01, clip_norm=0.5)
TOTAL_STEPS = 5


def rows(model, n, seed=0):
    """`n` example rows (numpy), with varied target lengths (padding differs per row)."""
    x = random_inputs(model, batch=n, src_len=9, tgt_len=7, seed=seed)
    lengths = np.random.default_rng(seed).integers(2, 8, n)
    x["decoder_padding_mask"] = (np.arange(7)[None, :] < lengths[:, None]).astype("int32")
    return x


def batches(model, count, size, seed=0):
    """`count` (inputs, labels) batches of `size` rows."""
    x = rows(model, count * size, seed)
    out = []
    for i in range(count):
        part = {k: tf.constant(v[i * size:(i + 1) * size]) for k, v in x.items()}
        out.append((part, part["decoder_token_ids"]))
    return out


def train_updates(micro_batches_per_update, micro_size, updates, policy="float32", clip=0.5):
    model = tiny_model("bert2bert", seed=3, dtype_policy=policy)
    cfg = OptimizerConfig(**{**OPTIMIZER.__dict__, "clip_norm": clip})
    optimizer = build_optimizer(cfg, 32, TOTAL_STEPS, policy, clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)
    step = TrainStep(model, optimizer, tf.distribute.get_strategy(), clip_norm=clip,
                     accumulation=micro_batches_per_update)
    data = iter(batches(model, 16 // micro_size * updates, micro_size))
    results = [step(data) for _ in range(updates)]
    weights = {v.path: v.numpy() for v in model.trainable_variables}
    keras.backend.clear_session()
    return results, weights, int(optimizer.iterations.numpy())


@pytest.mark.slow
def test_four_micro_batches_equal_one_batch_of_sixteen():
    one, weights_one, iterations_one = train_updates(1, 16, 3)
    four, weights_four, iterations_four = train_updates(4, 4, 3)
    assert iterations_one == iterations_four == 3  # real updates, not micro-steps
    schedule = learning_rate_schedule(OPTIMIZER, 32, TOTAL_STEPS)
    for k, (a, b) in enumerate(zip(one, four)):
        assert abs(float(a.loss) - float(b.loss)) < 1e-5
        assert abs(float(a.gradient_norm) - float(b.gradient_norm)) < 1e-5 * float(a.gradient_norm)
        assert float(a.gradient_norm) > 0.5  # the clip was active
        # update k+1 used the schedule at k+1 (1-based): warm-up 0.5e-3, then 1e-3, ...
        assert float(b.learning_rate) == pytest.approx(float(schedule(k)), rel=1e-6)
        assert int(a.examples) == int(b.examples) == 16
    assert [float(r.learning_rate) for r in four] == pytest.approx([5e-4, 1e-3, 2e-3 / 3], rel=1e-6)
    assert_same_updates(weights_one, weights_four, atol=1e-5)


def assert_same_updates(a, b, atol):
    """Equal weights, but for attention KEY biases: softmax ignores them, so their true
    gradient is 0 and Adam turns the rounding noise (1e-9) of any two summation orders into
    steps of +-lr."""
    assert a.keys() == b.keys()
    compared = [k for k in a if not k.endswith("key/bias")]
    assert len(compared) > 40
    for k in compared:
        np.testing.assert_allclose(a[k], b[k], atol=atol, err_msg=k)


@pytest.mark.slow
def test_float16_loss_scaling_clips_the_unscaled_gradient():
    plain, weights32, _ = train_updates(1, 16, 3, clip=1.0)
    scaled, weights16, _ = train_updates(1, 16, 3, policy="mixed_float16", clip=1.0)
    for a, b in zip(plain, scaled):
        assert not bool(b.skipped)
        # the logged norm is the real gradient's (loss-scaled it would be 32768 times larger)
        assert float(b.gradient_norm) == pytest.approx(float(a.gradient_norm), rel=0.01)
        assert float(b.loss) == pytest.approx(float(a.loss), rel=1e-2)
    # fp16 activations: compare the whole 3-update move of the weights, not single elements
    # (Adam moves a parameter by ~lr whatever the size of its gradient).
    initial = {v.path: v.numpy() for v in tiny_model("bert2bert", seed=3).trainable_variables}
    keras.backend.clear_session()
    keys = [k for k in initial if not k.endswith("key/bias")]  # see assert_same_updates
    move32 = np.concatenate([(weights32[k] - initial[k]).ravel() for k in keys])
    move16 = np.concatenate([(weights16[k] - initial[k]).ravel() for k in keys])
    assert np.linalg.norm(move16 - move32) < 0.03 * np.linalg.norm(move32)  # measured: 1.3%


@pytest.mark.slow
def test_float16_overflow_is_a_skipped_update_not_an_error():
    model = tiny_model("bert2bert", seed=3, dtype_policy="mixed_float16")
    optimizer = build_optimizer(OPTIMIZER, 32, TOTAL_STEPS, "mixed_float16",
                                clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)
    optimizer.dynamic_scale.assign(2.0 ** 60)  # any real gradient overflows float16
    before = [v.numpy() for v in model.trainable_variables]
    step = TrainStep(model, optimizer, tf.distribute.get_strategy(), clip_norm=1.0)
    result = step(iter(batches(model, 1, 4)))
    assert bool(result.skipped) and np.isfinite(float(result.loss))
    assert int(optimizer.iterations.numpy()) == 0 and float(optimizer.dynamic_scale) == 2.0 ** 59
    for a, v in zip(before, model.trainable_variables):
        np.testing.assert_array_equal(a, v.numpy())  # nothing applied
    keras.backend.clear_session()


def mirrored_updates(name, accumulation):
    """(losses, first 6 weights) of 3 updates of 48 rows: one device and 3 batches of 16, or
    12 global micro-batches of 4 split over two replicas (the logical CPUs of conftest.py)."""
    strategy = (tf.distribute.get_strategy() if name == "single"
                else tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    with strategy.scope():
        model = tiny_model("bert2bert", seed=3, num_layers=1)
        optimizer = build_optimizer(OPTIMIZER, 32, TOTAL_STEPS, "float32", clip_in_optimizer=False)
        optimizer.build(model.trainable_variables)
    step = TrainStep(model, optimizer, strategy, clip_norm=OPTIMIZER.clip_norm,
                     accumulation=accumulation)
    if name == "single":
        data = iter(batches(model, 3, 16))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(rows(model, 48)).batch(4).map(
            lambda x: (x, x["decoder_token_ids"]))
        data = iter(strategy.experimental_distribute_dataset(dataset))
    losses = [float(step(data).loss) for _ in range(3)]
    weights = [v.numpy() for v in model.trainable_variables[:6]]
    keras.backend.clear_session()
    return losses, weights


@pytest.mark.slow
def test_accumulation_under_mirrored_strategy_equals_one_device():
    single, single_weights = mirrored_updates("single", 1)
    mirrored, mirrored_weights = mirrored_updates("mirrored", 4)
    np.testing.assert_allclose(mirrored, single, rtol=1e-5)
    for a, b in zip(mirrored_weights, single_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


QUICK = ["train.train_steps=4", "train.checkpoint_every=2", "train.log_every=1",
         "train.batch_size=2", "train.gradient_accumulation_steps=2", "task.max_source_length=24",
         "task.max_target_length=16", "model.dropout=0.0", "model.attention_dropout=0.0",
         "optimizer.warmup_steps=1"]


@pytest.mark.slow
def test_accumulated_run_stopped_and_resumed_equals_uninterrupted(tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    cfg = load_config(tiny_smoke, QUICK)  # smoke.yaml on a tiny checkpoint
    whole = train(cfg, str(tmp_path / "whole"), progress=False)
    first = train(cfg, str(tmp_path / "split"), progress=False, stop_after=2)
    second = train(cfg, str(tmp_path / "split"), progress=False)
    assert (whole.final_step, first.final_step, second.start_step, second.final_step) == (4, 2, 2, 4)
    np.testing.assert_allclose(first.losses + second.losses, whole.losses, rtol=1e-6)
    assert_same_weights(final_weights(str(tmp_path / "whole")),
                        final_weights(str(tmp_path / "split")), atol=1e-6)
    reader = tf.train.load_checkpoint(str(tmp_path / "split" / "ckpt-4"))
    assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 4
    assert int(reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")) == 4
