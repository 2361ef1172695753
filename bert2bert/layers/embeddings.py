"""Word + position (+ token type) embeddings in the BERT, RoBERTa and GPT-2 styles."""
import keras
from keras import ops

from bert2bert.layers import fused


@keras.saving.register_keras_serializable(package="bert2bert")
class TransformerEmbeddings(keras.layers.Layer):
    """Sums word, position and (optionally) token-type embeddings.

    BERT: word + position + token type, then LayerNorm (epsilon 1e-12).
    RoBERTa: the same with positions offset by 2 and epsilon 1e-5.
    GPT-2: word + position only, no LayerNorm (its blocks normalise first).

    The word-embedding matrix is a `keras.layers.ReversibleEmbedding` that may be
    passed in, so that two stacks (or a stack and the output projection) can
    share one matrix: `word_embeddings(hidden, reverse=True)` gives logits.

    Args:
        vocab_size: rows of the word-embedding matrix (ignored if
            `word_embeddings` is given).
        hidden_size: embedding width.
        max_position_embeddings: rows of the position table.
        type_vocab_size: rows of the token-type table; 0 for none.
        position_offset: added to position ids (2 for RoBERTa).
        layer_norm_epsilon: epsilon of the LayerNorm; None for no LayerNorm.
        dropout: dropout rate after the sum (and LayerNorm).
        initializer_range: stddev of the truncated-normal initialiser.
        word_embeddings: an existing `ReversibleEmbedding` to use.

    Example:
        >>> emb = TransformerEmbeddings(vocab_size=100, hidden_size=8,
        ...     max_position_embeddings=16, type_vocab_size=2, layer_norm_epsilon=1e-12)
        >>> tuple(emb(ops.ones((2, 5), "int32")).shape)
        (2, 5, 8)
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_position_embeddings,
        type_vocab_size=0,
        position_offset=0,
        layer_norm_epsilon=None,
        dropout=0.0,
        initializer_range=0.02,
        word_embeddings=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.position_offset = position_offset
        self.layer_norm_epsilon = layer_norm_epsilon
        self.dropout_rate = dropout
        self.initializer_range = initializer_range

        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        if word_embeddings is None:
            word_embeddings = keras.layers.ReversibleEmbedding(
                vocab_size, hidden_size, embeddings_initializer=init,
                dtype=self.dtype_policy, name="word_embeddings")
        self.word_embeddings = word_embeddings
        self.position_embeddings = keras.layers.Embedding(
            max_position_embeddings, hidden_size, embeddings_initializer=init,
            dtype=self.dtype_policy, name="position_embeddings")
        self.token_type_embeddings = None
        if type_vocab_size:
            self.token_type_embeddings = keras.layers.Embedding(
                type_vocab_size, hidden_size, embeddings_initializer=init,
                dtype=self.dtype_policy, name="token_type_embeddings")
        self.layer_norm = None
        if layer_norm_epsilon is not None:
            self.layer_norm = fused.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        if not self.word_embeddings.built:
            self.word_embeddings.build(input_shape)
        self.position_embeddings.build(input_shape)
        if self.token_type_embeddings is not None:
            self.token_type_embeddings.build(input_shape)
        if self.layer_norm is not None:
            self.layer_norm.build(tuple(input_shape) + (self.hidden_size,))
        self.built = True

    def call(self, token_ids, position_ids=None, token_type_ids=None, training=None):
        """Embeds `token_ids` [B, T]; `position_ids` default to 0..T-1 (+ offset)."""
        if position_ids is None:
            position_ids = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
        x = self.word_embeddings(token_ids)
        x = x + self.position_embeddings(position_ids + self.position_offset)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = ops.zeros_like(token_ids)
            x = x + self.token_type_embeddings(token_type_ids)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.dropout(x, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            position_offset=self.position_offset,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dropout=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config
