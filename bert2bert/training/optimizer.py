"""The optimizer of a config: Adam or AdamW, its schedule, clipping, loss scaling."""
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


class _FusedUpdate:
    """Adam's moments and the variable updated by ONE TensorFlow kernel per variable
    (`ResourceApplyAdam`, the update of `tf.compat.v1.train.AdamOptimizer`) instead of about
    ten elementwise ops, each a pass over the variable. The same arithmetic as Keras' Adam
    (epsilon before the bias correction); with `torch_epsilon`, PyTorch's, by handing the
    kernel `epsilon * sqrt(1 - b2^t)`: `m_hat / (sqrt(v_hat) + eps)` equals
    `sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps * sqrt(1 - b2^t))`. AdamW's decoupled
    weight decay stays Keras' own (applied before the update). Sparse gradients take Keras'
    path."""

    torch_epsilon = False

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        beta_2_power = ops.power(beta_2, step)
        epsilon = ops.cast(self.epsilon, dtype)
        if self.torch_epsilon:
            epsilon = epsilon * ops.sqrt(1 - beta_2_power)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]), beta1_power=ops.power(beta_1, step),
            beta2_power=beta_2_power, lr=ops.cast(learning_rate, dtype), beta1=beta_1,
            beta2=beta_2, epsilon=epsilon, grad=ops.cast(gradient, dtype))


def _handle(variable):
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


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
