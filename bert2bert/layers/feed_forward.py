"""The position-wise feed-forward sub-block: Dense -> GELU -> Dense."""
import keras
from keras import ops

from bert2bert.layers import fused


@keras.saving.register_keras_serializable(package="bert2bert")
class FeedForward(keras.layers.Layer):
    """`Dense(intermediate) -> GELU -> Dense(hidden)`.

    Args:
        hidden_size: input and output width.
        intermediate_size: inner width (4x hidden in BERT and GPT-2).
        approximate_gelu: True for the tanh GELU of BERT and GPT-2, False for
            the exact (erf) GELU of RoBERTa.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:
        >>> ff = FeedForward(hidden_size=8, intermediate_size=32)
        >>> tuple(ff(ops.ones((2, 3, 8))).shape)
        (2, 3, 8)
    """

    def __init__(self, hidden_size, intermediate_size, approximate_gelu=True,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.approximate_gelu = approximate_gelu
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.intermediate_dense = keras.layers.Dense(
            intermediate_size, kernel_initializer=init, dtype=self.dtype_policy,
            name="intermediate")
        self.output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=init, dtype=self.dtype_policy, name="output")

    def build(self, input_shape):
        self.intermediate_dense.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_size,))
        self.built = True

    def call(self, x, training=None):
        h = self.intermediate_dense(x)
        if fused.active(training):  # one pass each way when the train step asks (layers/fused.py)
            h = fused.gelu(h, approximate=self.approximate_gelu)
        else:
            h = ops.gelu(h, approximate=self.approximate_gelu)
        return self.output_dense(h)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            approximate_gelu=self.approximate_gelu,
            initializer_range=self.initializer_range,
        )
        return config
