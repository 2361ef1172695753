"""make_train_step: the XLA-compiled forward/backward gives the same update as the plain one."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import OptimizerConfig
from bert2bert.training.step import make_train_step
from bert2bert.training.optimizer import build_optimizer
from tests.helpers import random_inputs, tiny_model


def one_step(jit):
    model = tiny_model("bert2bert", seed=3)
    cfg = OptimizerConfig(name="adamw", schedule="linear", learning_rate=1e-3, warmup_steps=0,
                          scale_by_hidden_size=False)
    optimizer = build_optimizer(cfg, 32, 100, "float32", clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)
    step = make_train_step(model, optimizer, tf.distribute.get_strategy(), clip_norm=1.0,
                           jit_compile=jit)
    inputs = {k: tf.constant(v) for k, v in random_inputs(model).items()}
    loss, norm, n = step((inputs, inputs["decoder_token_ids"]))
    return float(loss), float(norm), [v.numpy() for v in model.trainable_variables]


@pytest.mark.slow
def test_jit_compiled_step_equals_plain_step():
    loss, norm, weights = one_step(False)
    loss_x, norm_x, weights_x = one_step(True)
    assert np.isfinite(loss) and abs(loss - loss_x) < 1e-4
    assert abs(norm - norm_x) < 1e-3 * max(norm, 1.0)
    for a, b in zip(weights, weights_x):
        np.testing.assert_allclose(a, b, atol=2e-4)  # Adam step: lr 1e-3, noise ~2e-5
    keras.backend.clear_session()
