"""Learning-rate schedules: the paper's warm-up + square-root decay, and linear."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bert2bert")
class PaperRsqrtSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lr(s) = base * hidden**-0.5 * min(s / warmup, 1) * sqrt(warmup / max(s, warmup)).

    `s` is the 1-based step (optimizer iterations + 1), so the first update does
    not have a learning rate of 0. The paper: Adam, base 0.05, warm-up 40k,
    normalised by 1/sqrt(hidden size), then square-root decay.
    """

    def __init__(self, base_learning_rate, warmup_steps, hidden_size=None):
        self.base_learning_rate = float(base_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.hidden_size = hidden_size

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        warmup = float(max(self.warmup_steps, 1))
        lr = self.base_learning_rate
        if self.hidden_size:
            lr = lr * float(self.hidden_size) ** -0.5
        return lr * ops.minimum(s / warmup, 1.0) * ops.sqrt(warmup / ops.maximum(s, warmup))

    def get_config(self):
        return {"base_learning_rate": self.base_learning_rate,
                "warmup_steps": self.warmup_steps, "hidden_size": self.hidden_size}


@keras.saving.register_keras_serializable(package="bert2bert")
class LinearSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup_steps`, then linear decay to 0 at `total_steps`."""

    def __init__(self, peak_learning_rate, warmup_steps, total_steps):
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        warmup = float(max(self.warmup_steps, 1))
        decay = float(max(self.total_steps - self.warmup_steps, 1))
        up = s / warmup
        down = ops.maximum(0.0, (float(self.total_steps) - s) / decay)
        return self.peak_learning_rate * ops.where(s <= warmup, up, down)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate,
                "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}
