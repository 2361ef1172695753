"""The optimizer of a config: Adam or AdamW, its schedule, clipping, loss scaling."""
import keras

from bert2bert.config import OptimizerConfig
from bert2bert.training.schedule import LinearSchedule, PaperRsqrtSchedule


def learning_rate_schedule(cfg: OptimizerConfig, hidden_size: int, total_steps: int):
    if cfg.schedule == "paper_rsqrt":
        return PaperRsqrtSchedule(cfg.learning_rate, cfg.warmup_steps,
                                  hidden_size if cfg.scale_by_hidden_size else None)
    return LinearSchedule(cfg.learning_rate, cfg.warmup_steps, total_steps)


def build_optimizer(cfg: OptimizerConfig, hidden_size: int, total_steps: int,
                    dtype_policy: str = "float32", clip_in_optimizer: bool = True):
    """A Keras optimizer; wrapped in a LossScaleOptimizer under `mixed_float16`.

    Keras clips each replica's gradients before they are summed across replicas, and its
    own gradient accumulation runs the schedule on micro-steps; the training loop
    (`bert2bert.training.step.TrainStep`) therefore accumulates and clips the summed
    gradient itself, and passes `clip_in_optimizer=False`.
    """
    schedule = learning_rate_schedule(cfg, hidden_size, total_steps)
    kwargs = dict(learning_rate=schedule, beta_1=cfg.beta_1, beta_2=cfg.beta_2,
                  epsilon=cfg.epsilon,
                  global_clipnorm=cfg.clip_norm if clip_in_optimizer else None)
    if cfg.name == "adamw":
        optimizer = keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **kwargs)
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    else:
        optimizer = keras.optimizers.Adam(**kwargs)
    if dtype_policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
