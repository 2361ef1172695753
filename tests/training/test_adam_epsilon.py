"""`optimizer.adam_epsilon`: where Adam adds epsilon. "torch" is PyTorch's update,
`lr * m_hat / (sqrt(v_hat) + eps)`; "keras" (the default, as TF1) adds it before the bias
correction, which shrinks the first updates of parameters with tiny gradients."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import OptimizerConfig
from bert2bert.training.optimizer import build_optimizer

GRADIENT = np.array([1e-8, 1e-6, 1e-4, 1.0], "float32")
EPS, LR = 1e-6, 0.1


def updates_after(style, steps):
    cfg = OptimizerConfig(name="adamw", schedule="linear", learning_rate=LR, warmup_steps=0,
                          scale_by_hidden_size=False, beta_1=0.9, beta_2=0.999, epsilon=EPS,
                          weight_decay=0.0, adam_epsilon=style)
    variable = tf.Variable(np.zeros(4, "float32"))
    optimizer = build_optimizer(cfg, 4, 10_000, clip_in_optimizer=False)
    rates = []
    for _ in range(steps):
        rates.append(float(optimizer.learning_rate))  # the schedule at this update
        optimizer.apply_gradients([(tf.constant(GRADIENT), variable)])
    return variable.numpy(), rates


def torch_reference(steps, rates):
    """torch.optim.AdamW's arithmetic (weight decay 0) for a constant gradient."""
    m = v = x = np.zeros(4)
    for t in range(1, steps + 1):
        m = 0.9 * m + 0.1 * GRADIENT
        v = 0.999 * v + 0.001 * GRADIENT.astype(np.float64) ** 2
        m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
        x = x - rates[t - 1] * m_hat / (np.sqrt(v_hat) + EPS)
    return x


@pytest.mark.parametrize("steps", [1, 3])
def test_torch_style_is_pytorchs_update_and_keras_style_is_not(steps):
    torch_style, rates = updates_after("torch", steps)
    np.testing.assert_allclose(torch_style, torch_reference(steps, rates), rtol=1e-5)
    keras_style, _ = updates_after("keras", steps)
    # tiny gradients move less with epsilon before the bias correction; large ones the same
    assert abs(keras_style[1]) < 0.5 * abs(torch_style[1])
    np.testing.assert_allclose(keras_style[3], torch_style[3], rtol=1e-4)
