"""Token-by-token decoding (one hypothesis per source) and greedy search on top of it."""
import tensorflow as tf

from bert2bert.decoding.logits import finalize, next_token_log_probs


def decode_token_by_token(model, source_ids, source_mask, *, max_length: int, start_id, end_id,
                          pad_id, pick, min_length=0, no_repeat_ngram_size: int = 0,
                          forbidden_ids=()):
    """Feeds the model one token per step; `pick(log_probs [B, V], step) -> int32 [B]`
    chooses the next one. Stops when every row has produced `end_id` or after `max_length`
    tokens. Returns (ids [B, max_length], lengths [B]) as `finalize` does.

    One `tf.while_loop` with fixed-shape loop variables, so it compiles with XLA.
    """
    batch = tf.shape(source_ids)[0]
    state = model.start_decoding(source_ids, source_mask, max_length)
    positions = tf.range(max_length)

    def body(step, tokens, done, cache, ids):
        logits, new_state = model.decode_step(state.with_cache(cache), tokens, step)
        log_probs = next_token_log_probs(logits, ids, step, end_id=end_id, min_length=min_length,
                                         no_repeat_ngram_size=no_repeat_ngram_size,
                                         forbidden_ids=forbidden_ids)
        tokens = tf.cast(pick(log_probs, step), tf.int32)
        ids = tf.where(tf.equal(positions, step)[None, :], tokens[:, None], ids)
        done = tf.logical_or(done, tf.equal(tokens, end_id))
        return step + 1, tokens, done, new_state.cache, ids

    def cond(step, tokens, done, cache, ids):
        return tf.logical_and(step < max_length, tf.logical_not(tf.reduce_all(done)))

    start = (tf.constant(0), tf.fill([batch], tf.constant(start_id, tf.int32)),
             tf.zeros([batch], tf.bool), state.cache, tf.zeros([batch, max_length], tf.int32))
    *_, ids = tf.while_loop(cond, body, start, maximum_iterations=max_length)
    return finalize(ids, end_id, pad_id)


def greedy_decode(model, source_ids, source_mask, max_length: int, start_id, end_id,
                  pad_id=None, min_length=0, no_repeat_ngram_size: int = 0, forbidden_ids=()):
    """Greedy search: the most likely token at each step.

    Returns int32 ids [B, max_length] (the end token included; after it `pad_id`, which
    defaults to `end_id`) and lengths [B] (tokens before the end token). `min_length`
    forbids the end token before that many tokens; `no_repeat_ngram_size` forbids repeating
    an n-gram. Wrap in `tf.function(jit_compile=True)` to compile it with XLA.
    """
    def argmax(log_probs, step):
        return tf.argmax(log_probs, axis=-1, output_type=tf.int32)

    return decode_token_by_token(
        model, source_ids, source_mask, max_length=max_length, start_id=start_id,
        end_id=end_id, pad_id=end_id if pad_id is None else pad_id, pick=argmax,
        min_length=min_length, no_repeat_ngram_size=no_repeat_ngram_size,
        forbidden_ids=forbidden_ids)
