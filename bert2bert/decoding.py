"""Decoding in pure TensorFlow over a model's `start_decoding` / `decode_step`.

Greedy search for now; beam search and sampling come with the decoding issue.
"""
import tensorflow as tf


def greedy_decode(model, source_ids, source_mask, max_length: int, start_id: int, end_id: int):
    """Greedy decoding; returns int32 ids [B, max_length] (after the end token: `end_id`)
    and lengths [B] (tokens before the end token).

    Runs as one `tf.while_loop`, so it can be wrapped in `tf.function(jit_compile=True)`.
    """
    batch = tf.shape(source_ids)[0]
    state = model.start_decoding(source_ids, source_mask, max_length)
    out = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])
    done = tf.zeros([batch], tf.bool)
    tokens = tf.fill([batch], tf.constant(start_id, tf.int32))

    def body(step, tokens, done, state, out):
        logits, state = model.decode_step(state, tokens, step)
        next_tokens = tf.cast(tf.argmax(logits, axis=-1), tf.int32)
        next_tokens = tf.where(done, tf.constant(end_id, tf.int32), next_tokens)
        done = tf.logical_or(done, tf.equal(next_tokens, end_id))
        return step + 1, next_tokens, done, state, out.write(step, next_tokens)

    def cond(step, tokens, done, state, out):
        return tf.logical_and(step < max_length, tf.logical_not(tf.reduce_all(done)))

    _, _, _, _, out = tf.while_loop(cond, body, (tf.constant(0), tokens, done, state, out),
                                    maximum_iterations=max_length)
    ids = tf.transpose(out.stack())  # [B, steps]
    pad = max_length - tf.shape(ids)[1]
    ids = tf.pad(ids, [[0, 0], [0, pad]], constant_values=end_id)
    lengths = tf.reduce_sum(tf.cast(tf.math.cumsum(tf.cast(tf.equal(ids, end_id), tf.int32),
                                                   axis=1) == 0, tf.int32), axis=1)
    return ids, lengths
