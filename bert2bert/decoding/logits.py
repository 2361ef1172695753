"""What greedy search, sampling and beam search share: the log-probabilities of the next
token (with the minimum-length and repeated-n-gram rules applied), the GNMT length
penalty, and the clean-up of the output (padding after the end token, lengths).

Token buffers hold the generated tokens only (no start token), `[N, max_length]`;
`step` is the number of tokens generated so far, i.e. the position being chosen.
"""
import numbers

import tensorflow as tf

NEG_INF = float("-inf")


def length_penalty(length, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha`, float32.

    `length` counts the generated tokens including the end token; a hypothesis scores
    `sum of its token log-probs / length_penalty(length, alpha)`.
    """
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, tf.cast(alpha, tf.float32))


def _min_length_applies(min_length) -> bool:
    """False when `min_length` is a Python number below 1: the rule is off."""
    return not (isinstance(min_length, numbers.Number) and min_length < 1)


def _is_early_end(ids, step, min_length, end_id):
    """bool, the shape of `ids` [1 or N, W]: the end token while `step < min_length`."""
    early = tf.reshape(tf.less(step, tf.cast(min_length, tf.int32)), [-1, 1])  # [1 or N, 1]
    return tf.logical_and(early, tf.equal(ids, end_id))


def _is_one_of(ids, values):
    """bool, the shape of `ids`: the ids that are among `values` (a Python sequence)."""
    return tf.reduce_any(tf.equal(ids[..., None], tf.constant(list(values), tf.int32)), -1)


def block_early_end(log_probs, step, min_length, end_id):
    """Sets the end token's log-prob to -inf while `step < min_length` (a Python number, a
    scalar tensor, or one per row of `log_probs` [N]), so that no hypothesis has fewer than
    `min_length` tokens."""
    if not _min_length_applies(min_length):
        return log_probs
    vocab = tf.range(tf.shape(log_probs)[-1])[None, :]
    return tf.where(_is_early_end(vocab, step, min_length, end_id), NEG_INF, log_probs)


def block_repeated_ngrams(log_probs, tokens, step, size: int):
    """Sets to -inf every token that would complete an n-gram (n = `size`) already present
    among the `step` tokens generated so far.

    log_probs: [N, V]; tokens: int32 [N, L] generated tokens (values past `step` are ignored
    but must be valid ids); step: scalar. Works in place of a [N, L, V] one-hot: the banned
    (row, token) pairs are scattered into an [N, V] mask.
    """
    length = tokens.shape[1]
    windows = length - size + 1  # n-grams that fit in the buffer, by start position j
    if not size or windows < 1:
        return log_probs
    # Window j is complete before `step` (j + size <= step) and its first size-1 tokens
    # equal the size-1 tokens just before `step`: its last token is banned.
    match = tf.range(windows)[None, :] <= step - size
    for k in range(size - 1):
        recent = tf.gather(tokens, tf.maximum(step - size + 1 + k, 0), axis=1)
        match = tf.logical_and(match, tf.equal(tokens[:, k:k + windows], recent[:, None]))
    banned = tokens[:, size - 1:]
    rows = tf.broadcast_to(tf.range(tf.shape(tokens)[0])[:, None], tf.shape(banned))
    match = tf.broadcast_to(match, tf.shape(banned))  # (already so when size > 1)
    hits = tf.tensor_scatter_nd_max(tf.zeros(tf.shape(log_probs), tf.int32),
                                    tf.reshape(tf.stack([rows, banned], -1), [-1, 2]),
                                    tf.reshape(tf.cast(match, tf.int32), [-1]))
    return tf.where(hits > 0, NEG_INF, log_probs)


def never_generated(special_tokens, start_id=None):
    """Ids a decoder should never output: the vocabulary's start and padding tokens and the
    model's own start token `start_id` (`ModelSpec.start_id`), unless one of them is also the
    end token, as GPT-2's <|endoftext|> is."""
    end = int(special_tokens.end_id)
    return tuple(sorted({int(i) for i in (special_tokens.start_id, special_tokens.pad_id,
                                          start_id) if i is not None and int(i) != end}))


def block_ids(log_probs, ids):
    """Sets the log-probs of `ids` (a Python sequence) to -inf."""
    if not ids:
        return log_probs
    vocab = tf.range(tf.shape(log_probs)[-1])[None, :]
    return tf.where(_is_one_of(vocab, ids), NEG_INF, log_probs)


def next_token_log_probs(logits, tokens, step, *, end_id, min_length=0,
                         no_repeat_ngram_size: int = 0, forbidden_ids=()):
    """float32 log-softmax of `logits` [N, V] with the minimum-length and n-gram rules, and
    `forbidden_ids` never chosen (see `never_generated`)."""
    logits = tf.cast(logits, tf.float32)
    log_probs = logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
    log_probs = block_ids(log_probs, forbidden_ids)
    log_probs = block_early_end(log_probs, step, min_length, end_id)
    return block_repeated_ngrams(log_probs, tokens, step, no_repeat_ngram_size)


# The width of the chunks `_top_k_and_max` cuts a row into. For W1's 30522-wide rows, 32 gave
# the fastest beam search, compiled by XLA (17.9 against 15.7 sentences/s with 128, medians of
# four interleaved rounds) and as a plain graph (12.2 against 11.5), on an AVX2-only AMD EPYC
# (family 25 model 1); 16 measured level with 32, 64 slower.
TOP_K_CHUNK = 32


def _top_k_and_max(x, k: int, chunk: int = TOP_K_CHUNK):
    """`tf.math.top_k(x, k)` of `x` [N, V] (same values, ids and order, ties included) and
    the row maxima [N, 1], in about two passes over `x`.

    TensorFlow's CPU top-k costs several passes' time over a 30522-wide row. Here each row is
    cut into chunks of `chunk`; a row's top k lie in the k chunks with the largest maxima
    (lower chunk first among equal maxima, as top-k breaks ties by the lower index), so
    only those k x `chunk` values are ranked. Small rows use `tf.math.top_k` itself.
    """
    vocab = x.shape[-1]
    if vocab is None or 4 * k * chunk > vocab:  # little to gain
        values, ids = tf.math.top_k(x, k=k)
        return values, ids, tf.reduce_max(x, axis=-1, keepdims=True)
    chunks = -(-vocab // chunk)
    x = tf.pad(x, [[0, 0], [0, chunks * chunk - vocab]], constant_values=NEG_INF)
    blocks = tf.reshape(x, [-1, chunks, chunk])
    block_max = tf.reduce_max(blocks, axis=-1)  # [N, chunks]
    _, best = tf.math.top_k(block_max, k=k)
    best = tf.sort(best, axis=-1)  # in vocabulary order, so that ties keep the lower id
    values, position = tf.math.top_k(
        tf.reshape(tf.gather(blocks, best, batch_dims=1), [-1, k * chunk]), k=k)
    ids = tf.gather(best, position // chunk, batch_dims=1) * chunk + position % chunk
    return values, ids, tf.reduce_max(block_max, axis=-1, keepdims=True)


def top_next_tokens(logits, tokens, step, k: int, *, end_id, min_length=0,
                    no_repeat_ngram_size: int = 0, forbidden_ids=()):
    """The `k` most likely next tokens of every row of `logits` [N, V]: (log-probs float32
    [N, k], ids int32 [N, k]), best first: the values and order of
    `top_k(next_token_log_probs(...), k)` in a few passes over the vocabulary, not ten.

    No [N, V] log-softmax is built: a row's top `k + r` logits hold its top `k` allowed
    tokens (`r` counts the ids a rule may block: `forbidden_ids` and the end token), the
    rules are applied to those few, and the log-normaliser reuses the row maximum found on
    the way. A repeated-n-gram rule can block any id: with one, the whole row is masked
    first.
    """
    if no_repeat_ngram_size:
        log_probs = next_token_log_probs(logits, tokens, step, end_id=end_id,
                                         min_length=min_length,
                                         no_repeat_ngram_size=no_repeat_ngram_size,
                                         forbidden_ids=forbidden_ids)
        values, ids = tf.math.top_k(log_probs, k=min(k, log_probs.shape[-1] or k))
        return values, ids
    logits = tf.cast(logits, tf.float32)
    vocab = logits.shape[-1]
    blocks_end = _min_length_applies(min_length)
    width = k + len(forbidden_ids) + int(blocks_end)
    if vocab is not None:
        k, width = min(k, vocab), min(width, vocab)
    values, ids, row_max = _top_k_and_max(logits, width)
    row_max = tf.where(tf.math.is_finite(row_max), row_max, tf.zeros_like(row_max))
    # `tf.reduce_logsumexp`'s own arithmetic, with the maximum already at hand: same bits.
    log_norm = tf.math.log(tf.reduce_sum(tf.exp(logits - row_max), axis=-1, keepdims=True))
    log_probs = values - (log_norm + row_max)
    # The same rules as `block_ids` and `block_early_end`, on the candidates' ids only.
    rules = ([_is_one_of(ids, forbidden_ids)] if forbidden_ids else []) + (
        [_is_early_end(ids, step, min_length, end_id)] if blocks_end else [])
    if not rules:
        return log_probs, ids
    blocked = rules[0] if len(rules) == 1 else tf.logical_or(*rules)
    log_probs, order = tf.math.top_k(tf.where(blocked, NEG_INF, log_probs), k=k)
    return log_probs, tf.gather(ids, order, batch_dims=1)


def finalize(ids, end_id, pad_id, limit=None):
    """Keeps each row of `ids` [..., L] up to and including its first end token (and below
    `limit`: a scalar, or a tensor that broadcasts against `ids[..., 0]`), `pad_id` after;
    returns (ids, lengths): lengths count the tokens before the end token (a row without one
    counts up to `limit`, default L)."""
    positions = tf.range(tf.shape(ids)[-1])
    is_end = tf.equal(ids, end_id)
    keep = tf.equal(tf.cumsum(tf.cast(is_end, tf.int32), axis=-1, exclusive=True), 0)
    if limit is not None:
        keep = tf.logical_and(keep, positions < tf.expand_dims(limit, -1))
    lengths = tf.reduce_sum(tf.cast(tf.logical_and(keep, tf.logical_not(is_end)), tf.int32), -1)
    return tf.where(keep, ids, tf.cast(pad_id, ids.dtype)), lengths
