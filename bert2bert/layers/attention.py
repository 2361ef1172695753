"""Multi-head attention with a key/value cache for incremental decoding."""
import keras
from keras import ops

# Added to the scores of masked positions (in float32, before the softmax).
MASK_VALUE = -1e9


def _heads_first(x):
    """[B, T, N, H] -> [B, N, T, H] (a reshape when T is 1: one decoding step)."""
    if x.shape[1] == 1:
        return ops.reshape(x, (-1, x.shape[2], 1, x.shape[3]))
    return ops.transpose(x, (0, 2, 1, 3))


def _project(dense, x, output_shape):
    """`dense` (an `EinsumDense` of this module) applied to `x` as one 2-D matrix product.

    The kernel is viewed as a matrix [inputs, outputs] (a reshape, no copy): on CPU a 2-D
    product of a few rows runs several times faster than the batched product an einsum
    becomes, and the arithmetic is the same. `output_shape` is the result's trailing shape.
    """
    kernel = ops.convert_to_tensor(dense.kernel)
    inputs = 1
    for size in kernel.shape[:len(kernel.shape) - len(output_shape)]:
        inputs *= size
    outputs = 1
    for size in output_shape:
        outputs *= size
    y = ops.matmul(ops.reshape(x, (-1, inputs)), ops.reshape(kernel, (inputs, outputs)))
    y = y + ops.reshape(ops.convert_to_tensor(dense.bias), (outputs,))
    leading = tuple(ops.shape(x)[:len(x.shape) - (len(kernel.shape) - len(output_shape))])
    return ops.reshape(y, leading + tuple(output_shape))


def _write(cache, new, index):
    """`cache` [B, N, L, H] with `new` [B, N, T, H] written at positions index..index+T-1.

    One token (a decoding step) is written by a select against the position, an ordinary
    element-wise op; a longer block (a prefix) by `slice_update`, which outside XLA runs
    as an operation compiled on demand (costly per call, so kept out of the step loop).
    """
    new = ops.cast(new, cache.dtype)
    if new.shape[2] == 1:
        here = ops.arange(ops.shape(cache)[2]) == ops.cast(index, "int32")
        return ops.where(here[None, None, :, None], new, cache)
    return ops.slice_update(cache, [0, 0, index, 0], new)


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
          cross-attention whose keys/values were made once by `fixed_key_value(x)`.
        * `layer(query, cache=(k, v), cache_index=i)` self-attention step: the
          query's own keys/values are written into the cache at position `i`;
          returns `(output, new_cache)`.

    Keys and values (and caches) are laid out heads-first, `[B, heads, length, head_size]`,
    so that both products are plain batched matrix products: decoding reads a cached
    cross-attention key/value at every step without copying it into another layout. Keys
    fixed for the whole search (`fixed_key_value`) are stored transposed,
    `[B, heads, head_size, length]`.
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
        heads = (self.num_heads, self.head_size)
        return (_heads_first(_project(self.key_dense, value, heads)),
                _heads_first(_project(self.value_dense, value, heads)))

    def fixed_key_value(self, value):
        """(keys [B, N, H, S], values [B, N, S, H]) of `value` [B, S, D], for
        `call(query, cache=...)`: the keys every decoding step reads (cross-attention) are
        transposed once, here, so that a step's scores are a plain product (with the
        transpose folded in, TensorFlow's batched product of a step's few rows ran 1.6x
        slower on an AVX2-only AMD EPYC, family 25 model 1)."""
        key, val = self.key_value(value)
        return ops.swapaxes(key, -1, -2), val

    def call(self, query, value=None, attention_mask=None, cache=None,
             cache_index=None, training=None):
        """Attends from `query` [B, T, D]; `attention_mask` broadcasts to [B, T, S].

        A decoding step (T = 1) against fixed keys/values (`cache` without `cache_index`)
        may have several query rows per key row: the k consecutive rows of a source (its
        beams) attend as the k positions of one query, one product per source."""
        if cache is None:
            key, val = self.key_value(query if value is None else value)
            key = ops.swapaxes(key, -1, -2)
        elif cache_index is None:
            key, val = cache  # from fixed_key_value: keys [B, N, H, S]
        else:
            new_key, new_val = self.key_value(query if value is None else value)
            cache = (_write(cache[0], new_key, cache_index),
                     _write(cache[1], new_val, cache_index))
            key, val = ops.swapaxes(cache[0], -1, -2), cache[1]
        rows = ops.shape(query)[0]
        per_source = cache is not None and cache_index is None and query.shape[1] == 1
        if per_source:  # [rows, 1, D] -> [key rows, rows per key row, D]
            query = ops.reshape(query, (ops.shape(key)[0], -1, query.shape[-1]))

        q = _project(self.query_dense, query, (self.num_heads, self.head_size))
        q = _heads_first(q * ops.cast(self._scale, self.compute_dtype))
        scores = ops.cast(ops.matmul(q, key), "float32")  # [B, N, T, S]
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), axis=1)
            scores = ops.where(mask, scores, MASK_VALUE)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.dropout(probs, training=training)
        context = ops.matmul(probs, val)  # [B, N, T, H]
        if context.shape[2] == 1:
            context = ops.reshape(context, (-1, 1, self.num_heads, self.head_size))
        else:
            context = ops.transpose(context, (0, 2, 1, 3))  # [B, T, N, H]
        output = _project(self.output_dense, context, (self.output_size,))
        if per_source:
            output = ops.reshape(output, (rows, 1, self.output_size))
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
