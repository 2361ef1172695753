"""Beam search with the GNMT length penalty (alive / finished beams, 2 * beam candidates).

Each step extends the `beam_size` alive hypotheses of every source by one token and keeps
the `2 * beam_size` best extensions (at most `beam_size` of them end, so at least
`beam_size` stay alive). The ones that end join the finished pool, scored with the length
penalty; the best `beam_size` others stay alive. With `keep_unfinished=False` this is
exactly `official.nlp.modeling.ops.beam_search.sequence_beam_search` (Model Garden).

All loop variables have a fixed shape ([B, beam, max_length] token buffers written in
place), so the search runs with static shapes and compiles with XLA.
"""
import numbers

import tensorflow as tf

from bert2bert.decoding.logits import NEG_INF, finalize, length_penalty, top_next_tokens


def _pick(values, index):
    """values [B, M, ...] gathered along the beam axis at index [B, K] -> [B, K, ...]."""
    return tf.gather(values, index, batch_dims=1)


def _full(finished_scores):
    """[B] bool: every finished slot of the source holds a hypothesis."""
    return tf.reduce_all(finished_scores > NEG_INF, axis=1)


def beam_search(model, source_ids, source_mask, *, beam_size: int, max_length: int, start_id,
                end_id, pad_id, alpha=0.6, min_length=0, no_repeat_ngram_size: int = 0,
                n_best=None, length_limit=None, keep_unfinished=True, early_stopping=False,
                forbidden_ids=()):
    """Beam search over `model.start_decoding` / `model.decode_step`.

    Args:
        beam_size: hypotheses kept alive per source (Python int).
        max_length: Python int, the static length of every buffer and cache.
        alpha: length-penalty strength; Python number, scalar tensor or one per source [B].
        min_length: no end token before that many tokens; a number, scalar or [B] tensor.
        no_repeat_ngram_size: n (Python int): a token that would repeat an n-gram of its
            hypothesis gets probability 0. 0 disables it.
        n_best: hypotheses returned per source (default `beam_size`).
        length_limit: optional int32 tensor, scalar or one per source [B]: the run-time
            length limit (capped at max_length). Per-source values let one batch mix the
            settings of several requests (TF Serving's server-side batching).
        keep_unfinished: at the length limit, hypotheses still alive join the finished pool
            (scored with the penalty of the limit), and the search stops early only when
            all `beam_size` finished slots are filled and none can be beaten. False: the
            Model Garden rule (stop when the finished ones beat the alive ones, filled or
            not; a source with nothing finished returns its alive hypotheses scored with
            their raw log-probability).
        early_stopping: the search of transformers' `generate(num_beams=beam_size,
            early_stopping=True)`: only hypotheses that end among the `beam_size` best
            candidates join the finished pool (at the limit, the alive ones), and a source
            is done, its pool final, once `beam_size` have ended. False: every candidate
            that ends joins, and a source goes on while an alive hypothesis could still
            beat a finished one (Model Garden's rule).
        forbidden_ids: ids never chosen, e.g. `never_generated(special_tokens)`.

    Returns a dict: `ids` int32 [B, n_best, max_length] (end token included, `pad_id`
    after it), `lengths` int32 [B, n_best] (tokens before the end token) and `scores` float32
    [B, n_best] (sum of token log-probs, end token included, / length penalty), best first.
    Slots without a hypothesis have score -inf, length 0 and only `pad_id`.
    """
    n_best = beam_size if n_best is None else n_best
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")
    beams, candidates = beam_size, 2 * beam_size
    batch = tf.shape(source_ids)[0]
    # Per source [B]: the length limit, alpha and min_length (scalars broadcast).
    limit = tf.fill([batch], max_length)
    if length_limit is not None:
        limit = tf.minimum(tf.broadcast_to(tf.cast(length_limit, tf.int32), [batch]), limit)
    alpha = tf.broadcast_to(tf.cast(alpha, tf.float32), [batch])
    if not (isinstance(min_length, numbers.Number) and min_length < 1):
        min_length = tf.repeat(tf.broadcast_to(tf.cast(min_length, tf.int32), [batch]), beams)
    best_penalty = length_penalty(limit, alpha)

    # One cache row per beam (row b * beams + k); only the self-attention caches change from
    # step to step, the rest is constant (and kept once per source where the model can).
    state = model.start_decoding(source_ids, source_mask, max_length, beams)
    positions = tf.range(max_length)
    row_start = tf.range(batch)[:, None] * beams

    def body(step, alive_ids, alive_log_probs, cache, finished_ids, finished_scores):
        last = tf.where(step > 0, tf.gather(alive_ids, tf.maximum(step - 1, 0), axis=2), start_id)
        logits, new_state = model.decode_step(state.with_cache(cache),
                                              tf.reshape(last, [-1]), step)
        with tf.name_scope("candidates"):
            # Only a beam's own `candidates` best tokens can be among its source's best
            # `candidates` extensions: those few per beam are merged, not beams x vocab.
            log_probs, tokens = top_next_tokens(
                logits, tf.reshape(alive_ids, [-1, max_length]), step, candidates,
                end_id=end_id, min_length=min_length,
                no_repeat_ngram_size=no_repeat_ngram_size, forbidden_ids=forbidden_ids)
            width = log_probs.shape[-1]
            total = alive_log_probs[:, :, None] + tf.reshape(log_probs, [batch, beams, width])
            cand_log_probs, cand = tf.math.top_k(tf.reshape(total, [batch, beams * width]),
                                                 k=candidates)
            cand_beam = cand // width
            cand_token = tf.gather(tf.reshape(tokens, [batch, beams * width]), cand,
                                   batch_dims=1)
        cand_ids = tf.where(tf.equal(positions, step), cand_token[:, :, None],
                            _pick(alive_ids, cand_beam))
        ended = tf.equal(cand_token, end_id)

        # The best candidates that did not end stay alive; their caches follow them. A source
        # past its own length limit keeps its alive hypotheses as they were at the limit.
        new_log_probs, keep = tf.math.top_k(tf.where(ended, NEG_INF, cand_log_probs), k=beams)
        past = (step >= limit)[:, None]
        alive_log_probs = tf.where(past, alive_log_probs, new_log_probs)
        alive_ids = tf.where(past[:, :, None], alive_ids, _pick(cand_ids, keep))
        parents = tf.reshape(row_start + _pick(cand_beam, keep), [-1])
        with tf.name_scope("reorder_cache"):
            cache = tf.nest.map_structure(lambda t: tf.gather(t, parents), new_state.cache)

        # Candidates that ended (and at the limit, with keep_unfinished, all) join the pool;
        # with early_stopping only those ranked among the best `beams` (at the limit, the
        # alive ones), and none once the pool is full.
        at_limit = (step + 1 >= limit)[:, None]
        if early_stopping:
            ended = tf.logical_and(ended, tf.range(candidates)[None, :] < beams)
            if keep_unfinished:
                alive = tf.reduce_any(tf.one_hot(keep, candidates, on_value=True,
                                                 off_value=False, dtype=tf.bool), axis=1)
                ended = tf.logical_or(ended, tf.logical_and(at_limit, alive))
            ended = tf.logical_and(ended, tf.logical_not(_full(finished_scores))[:, None])
        elif keep_unfinished:
            ended = tf.logical_or(ended, at_limit)
        ended = tf.logical_and(ended, (step < limit)[:, None])  # nothing past a source's limit
        new_scores = tf.where(ended, cand_log_probs / length_penalty(step + 1, alpha[:, None]),
                              NEG_INF)
        finished_scores, best = tf.math.top_k(tf.concat([finished_scores, new_scores], 1),
                                              k=beams)
        finished_ids = _pick(tf.concat([finished_ids, cand_ids], 1), best)
        return step + 1, alive_ids, alive_log_probs, cache, finished_ids, finished_scores

    def cond(step, alive_ids, alive_log_probs, cache, finished_ids, finished_scores):
        best_alive = tf.reduce_max(alive_log_probs, axis=1) / best_penalty
        finished = finished_scores > NEG_INF
        if keep_unfinished:  # the worst of a full pool
            worst = tf.where(tf.reduce_all(finished, 1), tf.reduce_min(finished_scores, 1),
                             NEG_INF)
        else:  # the worst finished one (empty slots ignored), -inf when there is none
            worst = tf.where(tf.reduce_any(finished, 1),
                             tf.reduce_min(tf.where(finished, finished_scores, 0.0), 1), NEG_INF)
        settled = tf.logical_or(worst > best_alive, tf.equal(best_alive, NEG_INF))
        if early_stopping:
            settled = tf.logical_or(settled, _full(finished_scores))
        settled = tf.logical_or(settled, step >= limit)
        return tf.logical_not(tf.reduce_all(settled))

    first_alive = tf.constant([[0.0] + [NEG_INF] * (beams - 1)])
    buffer = tf.zeros([batch, beams, max_length], tf.int32)
    start = (tf.constant(0), buffer, tf.tile(first_alive, [batch, 1]), state.cache, buffer,
             tf.fill([batch, beams], NEG_INF))
    _, alive_ids, alive_log_probs, _, ids, scores = tf.while_loop(
        cond, body, start, maximum_iterations=max_length)

    if not keep_unfinished:  # sources with nothing finished return their alive hypotheses
        none = tf.logical_not(tf.reduce_any(scores > NEG_INF, axis=1))
        ids = tf.where(none[:, None, None], alive_ids, ids)
        scores = tf.where(none[:, None], alive_log_probs, scores)
    ids, scores = ids[:, :n_best], scores[:, :n_best]
    ids, lengths = finalize(ids, end_id, pad_id, limit[:, None])
    real = scores > NEG_INF
    return {"ids": tf.where(real[:, :, None], ids, tf.cast(pad_id, tf.int32)),
            "lengths": tf.where(real, lengths, 0),
            "scores": scores}
