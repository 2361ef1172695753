"""Sampling with temperature, top-k and nucleus (top-p) filtering, from a stateless,
counter-based random number generator.

TensorFlow's own stateless samplers (`tf.random.stateless_categorical`, Philox) give other
numbers under XLA than on the CPU kernels, so a compiled decoder would sample something
else than the same decoder run eagerly. Here the random bits are a 32-bit integer hash of
(seed, step, row, token), identical everywhere, and a token is drawn with the Gumbel-max
trick: `argmax(logits + Gumbel noise)` follows `softmax(logits)`.
"""
import numbers

import tensorflow as tf

from bert2bert.decoding.greedy import decode_token_by_token
from bert2bert.decoding.logits import NEG_INF


def _mix(x):
    """A 32-bit integer hash (Wellons' lowbias32) of uint32 `x`: good avalanche, exact."""
    for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(shift, tf.uint32)))
        x = x * tf.constant(factor, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _uint32_words(seed):
    """int seed or int [2] tensor -> uint32 [4] (low and high 32 bits of each part)."""
    seed = tf.constant([seed, 0], tf.int64) if isinstance(seed, int) else tf.cast(seed, tf.int64)
    seed = tf.reshape(seed, [2])
    words = tf.concat([seed, tf.bitwise.right_shift(seed, tf.constant(32, tf.int64))], 0)
    return tf.cast(tf.bitwise.bitwise_and(words, tf.constant(0xFFFFFFFF, tf.int64)), tf.uint32)


def gumbel_noise(seed_words, step, shape):
    """Standard Gumbel noise of `shape` [B, V], a function of (seed, step) only."""
    key = _mix(tf.cast(step, tf.uint32))
    for i in range(4):
        key = _mix(tf.bitwise.bitwise_xor(key, seed_words[i]))
    counter = tf.cast(tf.reshape(tf.range(shape[0] * shape[1]), shape), tf.uint32)
    bits = _mix(tf.bitwise.bitwise_xor(_mix(counter), key))
    # 24 random bits -> uniform in (0, 1), never 0 or 1.
    uniform = (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
               + 0.5) * 2.0 ** -24
    return -tf.math.log(-tf.math.log(uniform))


def _keep_top_k(logits, top_k: int):
    if not top_k:
        return logits
    kth_best = tf.math.top_k(logits, k=top_k).values[:, -1:]
    return tf.where(logits < kth_best, NEG_INF, logits)


def _keep_top_p(logits, top_p):
    """Keeps the smallest set of most likely tokens whose probability reaches `top_p`."""
    if isinstance(top_p, numbers.Number) and top_p >= 1:
        return logits
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    before = tf.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
    kept = tf.logical_or(before < tf.cast(top_p, tf.float32),
                         tf.range(tf.shape(logits)[-1]) == 0)  # the best token always stays
    threshold = tf.reduce_min(tf.where(kept, ordered, float("inf")), axis=-1, keepdims=True)
    return tf.where(logits < threshold, NEG_INF, logits)


def sample_decode(model, source_ids, source_mask, *, max_length: int, start_id, end_id, pad_id,
                  seed, temperature=1.0, top_k: int = 0, top_p=1.0, min_length=0,
                  no_repeat_ngram_size: int = 0, forbidden_ids=()):
    """Samples each token from the model's distribution (divided by `temperature` > 0,
    restricted to the `top_k` best tokens when `top_k` > 0, and to the nucleus of
    probability `top_p` when `top_p` < 1).

    `seed` is an int or an int [2] tensor: the same seed gives the same output, eager or
    compiled with XLA. Returns (ids [B, max_length] with `pad_id` after the end token,
    lengths [B]) like `greedy_decode`.
    """
    seed_words = _uint32_words(seed)

    def sample(log_probs, step):
        logits = log_probs / tf.cast(temperature, tf.float32)
        logits = _keep_top_p(_keep_top_k(logits, top_k), top_p)
        noise = gumbel_noise(seed_words, step, tf.shape(logits))
        return tf.argmax(logits + noise, axis=-1, output_type=tf.int32)

    return decode_token_by_token(
        model, source_ids, source_mask, max_length=max_length, start_id=start_id,
        end_id=end_id, pad_id=pad_id, pick=sample, min_length=min_length,
        no_repeat_ngram_size=no_repeat_ngram_size, forbidden_ids=forbidden_ids)
