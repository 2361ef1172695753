"""BERT's masked-LM head transform, in front of the tied output projection."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bert2bert")
class LanguageModelHead(keras.layers.Layer):
    """`Dense(hidden) -> GELU -> LayerNorm`, plus an output bias over the vocabulary.

    The transform and the bias of BERT's `cls/predictions` (RoBERTa's `lm_head`): the
    logits are `transform(h) @ word_embeddings^T + bias`. The projection matrix itself is
    the word-embedding matrix and is not part of this layer.

    Args:
        hidden_size: input and output width of the transform.
        vocab_size: length of the output bias.
        approximate_gelu: the stack's GELU form (tanh for BERT, exact for RoBERTa).
        layer_norm_epsilon: epsilon of the LayerNorm.
        initializer_range: stddev of the truncated-normal initialiser of the Dense kernel.

    Example:
        >>> head = LanguageModelHead(hidden_size=8, vocab_size=100)
        >>> head.build()
        >>> tuple(head.transform(ops.ones((2, 3, 8))).shape), tuple(head.bias.shape)
        ((2, 3, 8), (100,))
    """

    def __init__(self, hidden_size, vocab_size, approximate_gelu=True,
                 layer_norm_epsilon=1e-12, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.approximate_gelu = approximate_gelu
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size, kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=initializer_range), dtype=self.dtype_policy, name="dense")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")

    def build(self, input_shape=None):
        shape = (None, self.hidden_size)
        self.dense.build(shape)
        self.layer_norm.build(shape)
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def transform(self, hidden):
        """[..., hidden] -> [..., hidden]: Dense, GELU, LayerNorm."""
        x = ops.gelu(self.dense(hidden), approximate=self.approximate_gelu)
        return self.layer_norm(x)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, vocab_size=self.vocab_size,
                      approximate_gelu=self.approximate_gelu,
                      layer_norm_epsilon=self.layer_norm_epsilon,
                      initializer_range=self.initializer_range)
        return config
