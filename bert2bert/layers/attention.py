"""Multi-head attention with a key/value cache for incremental decoding."""
import keras
from keras import ops

# Added to the scores of masked positions (in float32, before the softmax).
MASK_VALUE = -1e9


def _heads_first(x):
    """[B, T, N, H] -> [B, N, T, H]."""
    return ops.transpose(x, (0, 2, 1, 3))


@keras.saving.register_keras_serializable(package="bert2bert")
class CachedAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention, self or cross, with a cache.

    Kernels use Model Garden's layout: query/key/value `[in, heads, head_size]`,
    output `[heads, head_size, hidden]`. Keys and values may come from a
    sequence of a different width than the query (encoder -> decoder), so the
    key/value kernels are also the projection between the two widths.

    Three ways to call it:
        * `layer(query, value)` plain attention (`value=None`: self-attention).
        * `layer(query, cache=(k, v))` attend to precomputed keys/values, e.g.
          cross-attention whose keys/values were made once by `key_value(x)`.
        * `layer(query, cache=(k, v), cache_index=i)` self-attention step: the
          query's own keys/values are written into the cache at position `i`;
          returns `(output, new_cache)`.

    Keys and values (and caches) are laid out heads-first, `[B, heads, length, head_size]`,
    so that both products are plain batched matrix products: decoding reads a cached
    cross-attention key/value at every step without copying it into another layout.
    Softmax runs in float32 whatever the compute dtype.

    Args:
        num_heads: number of attention heads.
        head_size: width of one head.
        output_size: width of the output (defaults to `num_heads * head_size`).
        dropout: dropout rate on the attention probabilities.
        initializer_range: stddev of the truncated-normal initialiser.

    Example:
        >>> att = CachedAttention(num_heads=2, head_size=4)
        >>> x = ops.ones((1, 3, 8))
        >>> tuple(att(x).shape)
        (1, 3, 8)
    """

    def __init__(self, num_heads, head_size, output_size=None, dropout=0.0,
                 initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.output_size = output_size or num_heads * head_size
        self.dropout_rate = dropout
        self.initializer_range = initializer_range
        self._scale = 1.0 / float(head_size) ** 0.5

        def dense(name, equation, output_shape, bias_axes):
            return keras.layers.EinsumDense(
                equation, output_shape=output_shape, bias_axes=bias_axes,
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
                dtype=self.dtype_policy, name=name)

        heads = (None, num_heads, head_size)
        self.query_dense = dense("query", "btd,dnh->btnh", heads, "nh")
        self.key_dense = dense("key", "bsd,dnh->bsnh", heads, "nh")
        self.value_dense = dense("value", "bsd,dnh->bsnh", heads, "nh")
        self.output_dense = dense("attention_output", "btnh,nhd->btd",
                                  (None, self.output_size), "d")
        self.dropout = keras.layers.Dropout(dropout, dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None):
        value_shape = value_shape or query_shape
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build(tuple(query_shape[:2]) + (self.num_heads, self.head_size))
        self.built = True

    def key_value(self, value):
        """Projects `value` [B, S, D] to the (keys, values) pair, each [B, N, S, H]."""
        return (_heads_first(self.key_dense(value)), _heads_first(self.value_dense(value)))

    def call(self, query, value=None, attention_mask=None, cache=None,
             cache_index=None, training=None):
        """Attends from `query` [B, T, D]; `attention_mask` broadcasts to [B, T, S]."""
        if cache is None:
            key, val = self.key_value(query if value is None else value)
        elif cache_index is None:
            key, val = cache
        else:
            new_key, new_val = self.key_value(query if value is None else value)
            start = [0, 0, cache_index, 0]
            key = ops.slice_update(cache[0], start, ops.cast(new_key, cache[0].dtype))
            val = ops.slice_update(cache[1], start, ops.cast(new_val, cache[1].dtype))
            cache = (key, val)

        q = _heads_first(self.query_dense(query) * ops.cast(self._scale, self.compute_dtype))
        scores = ops.cast(ops.matmul(q, ops.swapaxes(key, -1, -2)), "float32")  # [B, N, T, S]
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), axis=1)
            scores = ops.where(mask, scores, MASK_VALUE)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.dropout(probs, training=training)
        context = ops.transpose(ops.matmul(probs, val), (0, 2, 1, 3))  # [B, T, N, H]
        output = self.output_dense(context)
        if cache_index is not None:
            return output, cache
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_size=self.head_size,
            output_size=self.output_size,
            dropout=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config
