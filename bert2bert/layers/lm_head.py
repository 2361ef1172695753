"""BERT's masked-LM head transform and output bias, around the tied output projection."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bert2bert")
class LanguageModelHead(keras.layers.Layer):
    """`Dense(hidden) -> GELU -> LayerNorm`, plus an output bias over the vocabulary.

    The transform and the bias of BERT's `cls/predictions` (RoBERTa's `lm_head`): the
    logits are `transform(h) @ word_embeddings^T + bias`. The projection matrix itself is
    the word-embedding matrix and is not part of this layer. With `transform=False` the layer
    is the output bias alone (the released bertseq2seq models, Hugging Face's
    BertGenerationDecoder) and `transform` is the identity.

    Args:
        hidden_size: input and output width of the transform.
        vocab_size: length of the output bias.
        approximate_gelu: the stack's GELU form (tanh for BERT, exact for RoBERTa).
        layer_norm_epsilon: epsilon of the LayerNorm.
        initializer_range: stddev of the truncated-normal initialiser of the Dense kernel.
        transform: False for the output bias alone.

    Example:
        >>> head = LanguageModelHead(hidden_size=8, vocab_size=100)
        >>> head.build()
        >>> tuple(head.transform(ops.ones((2, 3, 8))).shape), tuple(head.bias.shape)
        ((2, 3, 8), (100,))
    """

    def __init__(self, hidden_size, vocab_size, approximate_gelu=True,
                 layer_norm_epsilon=1e-12, initializer_range=0.02, transform=True, **kwargs):
        super().__init__(**kwargs)
        self.has_transform = bool(transform)
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.approximate_gelu = approximate_gelu
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.dense = self.layer_norm = None
        if self.has_transform:
            self.dense = keras.layers.Dense(
                hidden_size, kernel_initializer=keras.initializers.TruncatedNormal(
                    stddev=initializer_range), dtype=self.dtype_policy, name="dense")
            self.layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")

    def build(self, input_shape=None):
        shape = (None, self.hidden_size)
        if self.has_transform:
            self.dense.build(shape)
            self.layer_norm.build(shape)
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def transform(self, hidden):
        """[..., hidden] -> [..., hidden]: Dense, GELU, LayerNorm (identity without)."""
        if not self.has_transform:
            return hidden
        x = ops.gelu(self.dense(hidden), approximate=self.approximate_gelu)
        return self.layer_norm(x)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, vocab_size=self.vocab_size,
                      approximate_gelu=self.approximate_gelu,
                      layer_norm_epsilon=self.layer_norm_epsilon,
                      initializer_range=self.initializer_range, transform=self.has_transform)
        return config
