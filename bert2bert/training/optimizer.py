"""The optimizer of a config: Adam or AdamW, its schedule, clipping, loss scaling."""
from typing import NamedTuple

import keras
import tensorflow as tf
from keras import ops

from bert2bert.config import OptimizerConfig
from bert2bert.training.schedule import LinearSchedule, PaperRsqrtSchedule


def learning_rate_schedule(cfg: OptimizerConfig, hidden_size: int, total_steps: int):
    if cfg.schedule == "paper_rsqrt":
        return PaperRsqrtSchedule(cfg.learning_rate, cfg.warmup_steps,
                                  hidden_size if cfg.scale_by_hidden_size else None)
    return LinearSchedule(cfg.learning_rate, cfg.warmup_steps, total_steps)


class _EpsilonInsideBiasCorrection:
    """Adam's update as PyTorch (and Hugging Face) compute it: `lr * m_hat / (sqrt(v_hat) +
    epsilon)`. Keras and TF1 add epsilon before the bias correction (`lr * sqrt(1 - b2^t) /
    (1 - b1^t) * m / (sqrt(v) + epsilon)`), which makes the first updates of parameters with
    gradients below about epsilon / sqrt(1 - b2^t) smaller."""

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, variable.dtype), step)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, (gradient - m) * (1 - self.beta_1))
        self.assign_add(v, (ops.square(gradient) - v) * (1 - self.beta_2))
        correction = ops.sqrt(1 - beta_2_power)
        alpha = lr * correction / (1 - beta_1_power)
        self.assign_sub(variable, m * alpha / (ops.sqrt(v) + self.epsilon * correction))


class _AdamScalars(NamedTuple):
    """The scalars every variable's Adam update shares, float32: computed once an update."""

    learning_rate: tf.Tensor
    beta_1: tf.Tensor
    beta_2: tf.Tensor
    beta_1_power: tf.Tensor
    beta_2_power: tf.Tensor
    epsilon: tf.Tensor  # as the kernel takes it (PyTorch's style already folded in)
    weight_decay: tf.Tensor  # AdamW's decoupled decay rate (0 without one)


class _FusedUpdate:
    """Adam's moments and the variable updated by ONE TensorFlow kernel per variable
    (`ResourceApplyAdam`, the update of `tf.compat.v1.train.AdamOptimizer`) instead of about
    ten elementwise ops, each a pass over the variable. The same arithmetic as Keras' Adam
    (epsilon before the bias correction); with `torch_epsilon`, PyTorch's, by handing the
    kernel `epsilon * sqrt(1 - b2^t)`: `m_hat / (sqrt(v_hat) + eps)` equals
    `sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps * sqrt(1 - b2^t))`. AdamW's decoupled
    weight decay is Keras' arithmetic (applied before the update), run once the variable's
    gradient exists (`_decay`). Sparse gradients take Keras' path.

    The scalars (learning rate, beta powers, epsilon; the schedule for the weight decay) are
    computed once per update, not once per variable as Keras does: each variable then adds
    10 ops to the graph instead of 38, and a tiny model's train step traced 30% and first
    ran 27% faster (the same numbers: the same float32 scalars)."""

    torch_epsilon = False

    def _adam_scalars(self, learning_rate) -> _AdamScalars:
        step = ops.cast(self.iterations + 1, "float32")
        beta_1, beta_2 = ops.cast(self.beta_1, "float32"), ops.cast(self.beta_2, "float32")
        beta_2_power = ops.power(beta_2, step)
        epsilon = ops.cast(self.epsilon, "float32")
        if self.torch_epsilon:
            epsilon = epsilon * ops.sqrt(1 - beta_2_power)
        return _AdamScalars(ops.cast(learning_rate, "float32"), beta_1, beta_2,
                            ops.power(beta_1, step), beta_2_power, epsilon,
                            ops.cast(self.weight_decay or 0.0, "float32"))

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        super()._backend_update_step(grads, trainable_variables,
                                     self._adam_scalars(learning_rate))

    def update_step(self, gradient, variable, learning_rate):
        scalars = (learning_rate if isinstance(learning_rate, _AdamScalars)
                   else self._adam_scalars(learning_rate))
        dtype = variable.dtype
        s = _AdamScalars(*(_as(x, dtype) for x in scalars))
        self._decay(variable, gradient, s)
        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, scalars.learning_rate)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]), beta1_power=s.beta_1_power,
            beta2_power=s.beta_2_power, lr=s.learning_rate, beta1=s.beta_1, beta2=s.beta_2,
            epsilon=s.epsilon, grad=_as(gradient, dtype))

    def _apply_weight_decay(self, variables):
        """Nothing here: each variable decays in `update_step`, once its gradient exists."""

    def _decay(self, variable, gradient, scalars: _AdamScalars):
        """Keras' decoupled decay `v -= v * wd * lr` of one variable, run after `gradient`.

        Keras decays every variable before the update with no data dependence on the
        gradients, so a graph may run it while the backward pass still holds the variable's
        forward read: the assignment then copies the variable (copy-on-write), and W1's
        training step held a second copy of its decayed weights (88 MiB) at its memory peak.
        After the gradient (clipped: after the whole backward pass) it updates in place."""
        keras_variable = self._trainable_variables[self._get_variable_index(variable)]
        if self.weight_decay is None or not self._use_weight_decay(keras_variable):
            return
        with tf.control_dependencies(tf.nest.flatten(gradient, expand_composites=True)):
            _tf_variable(variable).assign_sub(
                variable * scalars.weight_decay * scalars.learning_rate)


def _as(x, dtype):
    """`x` in `dtype` (no Cast op when it already is)."""
    x = ops.convert_to_tensor(x)
    return x if x.dtype == dtype else ops.cast(x, dtype)


def _tf_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


def _handle(variable):
    return _tf_variable(variable).handle


class TorchAdam(_EpsilonInsideBiasCorrection, keras.optimizers.Adam):
    """`keras.optimizers.Adam` with PyTorch's epsilon (`OptimizerConfig.adam_epsilon`)."""


class TorchAdamW(_EpsilonInsideBiasCorrection, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with PyTorch's epsilon (`OptimizerConfig.adam_epsilon`)."""


# The fused classes fall back (sparse gradients) to the class they extend.
class FusedAdam(_FusedUpdate, keras.optimizers.Adam):
    """`keras.optimizers.Adam`, each variable's update one fused kernel."""


class FusedAdamW(_FusedUpdate, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW`, each variable's update one fused kernel."""


class FusedTorchAdam(_FusedUpdate, TorchAdam):
    """`TorchAdam`, each variable's update one fused kernel."""
    torch_epsilon = True


class FusedTorchAdamW(_FusedUpdate, TorchAdamW):
    """`TorchAdamW`, each variable's update one fused kernel."""
    torch_epsilon = True


def build_optimizer(cfg: OptimizerConfig, hidden_size: int, total_steps: int,
                    dtype_policy: str = "float32", clip_in_optimizer: bool = True,
                    fused: bool = True):
    """A Keras optimizer; wrapped in a LossScaleOptimizer under `mixed_float16`.

    Keras clips each replica's gradients before they are summed across replicas, and its
    own gradient accumulation runs the schedule on micro-steps; the training loop
    (`bert2bert.training.step.TrainStep`) therefore accumulates and clips the summed
    gradient itself, and passes `clip_in_optimizer=False`. `fused`: each variable's update
    is one kernel (`_FusedUpdate`; the same numbers as Keras' ops, about twice as fast).
    """
    schedule = learning_rate_schedule(cfg, hidden_size, total_steps)
    kwargs = dict(learning_rate=schedule, beta_1=cfg.beta_1, beta_2=cfg.beta_2,
                  epsilon=cfg.epsilon,
                  global_clipnorm=cfg.clip_norm if clip_in_optimizer else None)
    torch = cfg.adam_epsilon == "torch"
    if cfg.name == "adamw":
        optimizer = {(False, False): keras.optimizers.AdamW, (True, False): TorchAdamW,
                     (False, True): FusedAdamW, (True, True): FusedTorchAdamW}[torch, fused](
            weight_decay=cfg.weight_decay, **kwargs)
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    else:
        optimizer = {(False, False): keras.optimizers.Adam, (True, False): TorchAdam,
                     (False, True): FusedAdam, (True, True): FusedTorchAdam}[torch, fused](
            **kwargs)
    if dtype_policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
