"""The shared logit processing against plain-Python references."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.decoding import length_penalty
from bert2bert.decoding.logits import (TOP_K_CHUNK, block_early_end, block_repeated_ngrams,
                                       finalize, next_token_log_probs, top_next_tokens)


def banned_reference(tokens, step, n):
    """Tokens that would complete an n-gram already among tokens[:step]."""
    seen = tokens[:step]
    recent = tuple(seen[step - n + 1:]) if n > 1 else ()
    return {seen[j + n - 1] for j in range(step - n + 1) if tuple(seen[j:j + n - 1]) == recent}


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_block_repeated_ngrams_matches_a_reference(n):
    rng = np.random.default_rng(n)
    vocab, length = 5, 12  # a small vocabulary: many repeats
    tokens = rng.integers(0, vocab, (6, length)).astype("int32")
    blocked_some = False
    for step in range(length + 1):
        out = block_repeated_ngrams(tf.zeros([6, vocab]), tf.constant(tokens), tf.constant(step), n)
        for row in range(6):
            banned = set(np.flatnonzero(np.isinf(out[row].numpy())))
            assert banned == banned_reference(list(tokens[row]), step, n), (row, step)
            blocked_some |= bool(banned)
    assert blocked_some


def test_block_repeated_ngrams_off_or_too_long():
    log_probs = tf.zeros([2, 5])
    tokens = tf.zeros([2, 3], tf.int32)
    assert block_repeated_ngrams(log_probs, tokens, tf.constant(3), 0) is log_probs
    assert block_repeated_ngrams(log_probs, tokens, tf.constant(3), 4) is log_probs


def test_block_early_end():
    log_probs = tf.zeros([2, 4])
    for step, min_length in [(0, 1), (2, 3), (3, 3), (1, tf.constant(2)), (2, tf.constant(2))]:
        out = block_early_end(log_probs, tf.constant(step), min_length, end_id=2).numpy()
        expect_blocked = step < int(min_length)
        assert np.isinf(out[:, 2]).all() == expect_blocked
        assert np.isfinite(np.delete(out, 2, axis=1)).all()
    assert block_early_end(log_probs, tf.constant(0), 0, end_id=2) is log_probs


def test_finalize_and_length_penalty():
    ids = tf.constant([[4, 9, 5, 9, 7], [4, 4, 4, 4, 4], [9, 3, 3, 3, 3]])
    out, lengths = finalize(ids, end_id=9, pad_id=0)
    np.testing.assert_array_equal(out, [[4, 9, 0, 0, 0], [4, 4, 4, 4, 4], [9, 0, 0, 0, 0]])
    np.testing.assert_array_equal(lengths, [1, 5, 0])
    out, lengths = finalize(ids, end_id=9, pad_id=0, limit=tf.constant(3))
    np.testing.assert_array_equal(out, [[4, 9, 0, 0, 0], [4, 4, 4, 0, 0], [9, 0, 0, 0, 0]])
    np.testing.assert_array_equal(lengths, [1, 3, 0])
    np.testing.assert_allclose(length_penalty(7, 0.6), (12 / 6) ** 0.6, rtol=1e-6)
    np.testing.assert_allclose(length_penalty(tf.constant(3), tf.constant(0.0)), 1.0)


@pytest.mark.slow
def test_forbidden_ids_are_never_generated():
    import types

    import numpy as np

    from bert2bert.decoding import beam_search, greedy_decode, never_generated
    from tests.decoding.common import NEVER, frequent_token, setup

    assert never_generated(types.SimpleNamespace(start_id=101, end_id=102, pad_id=0)) == (0, 101)
    gpt2 = types.SimpleNamespace(start_id=50256, end_id=50256, pad_id=50256)
    assert never_generated(gpt2) == ()  # the end token must stay possible
    model, src, mask = setup("bert2bert")
    banned = frequent_token("bert2bert")
    plain, _ = greedy_decode(model, src, mask, 10, 1, NEVER, pad_id=0)
    assert (plain.numpy() == banned).any(), "the banned token should be likely without the ban"
    ids, _ = greedy_decode(model, src, mask, 10, 1, NEVER, pad_id=0, forbidden_ids=(banned,))
    out = beam_search(model, src, mask, beam_size=3, max_length=10, start_id=1, end_id=NEVER,
                      pad_id=0, forbidden_ids=(banned,))
    assert not (ids.numpy() == banned).any()
    assert not (out["ids"].numpy() == banned).any()
    assert np.all(np.isfinite(out["scores"].numpy()))


@pytest.mark.parametrize("vocab", [10, 50, 7001])  # 10 < k + 3; 7001 > 4 x 11 x chunk: by chunks
@pytest.mark.parametrize("min_length, ngram", [(0, 0), (5, 0), ("rows", 0), (5, 2)])
def test_top_next_tokens_equals_top_k_of_the_full_log_softmax(min_length, ngram, vocab,
                                                               monkeypatch):
    """Same bits and order as the full-vocabulary path, also when a blocked id (forbidden,
    or the end token before min_length) holds a row's largest logit, and with ties."""
    rng = np.random.default_rng(0)
    rows, k, end_id, forbidden = 12, 8, 3, (0, 7)
    logits = rng.normal(size=(rows, vocab)).astype("float32") * 4
    logits[0, 7] = logits[1, end_id] = 50.0  # a blocked id is the row maximum
    logits[2, 10:14] = 9.0  # a tie across the k-th place
    logits[3, ::vocab // 9] = 20.0  # ties across chunks, more than k of them
    logits[4, -3:] = 30.0  # the last, partial chunk
    tokens = tf.constant(rng.integers(0, vocab, (rows, 6)), tf.int32)
    if min_length == "rows":
        min_length = tf.constant(rng.integers(0, 8, rows), tf.int32)
    k = min(k, vocab)
    ranked_widths = []  # the widths tf.math.top_k is asked to rank
    top_k = tf.math.top_k
    monkeypatch.setattr(tf.math, "top_k", lambda x, k: ranked_widths.append(x.shape[-1])
                        or top_k(x, k=k))
    for step in (0, 4, 6):
        step = tf.constant(step)
        want = top_k(next_token_log_probs(
            logits, tokens, step, end_id=end_id, min_length=min_length,
            no_repeat_ngram_size=ngram, forbidden_ids=forbidden), k=k)
        values, ids = top_next_tokens(logits, tokens, step, k, end_id=end_id,
                                      min_length=min_length, no_repeat_ngram_size=ngram,
                                      forbidden_ids=forbidden)
        np.testing.assert_array_equal(values.numpy(), want.values.numpy())
        # (with fewer than k allowed ids, as at vocab 10, the last places are -inf ties)
        real = np.isfinite(want.values.numpy())
        assert real.mean() > 0.8
        np.testing.assert_array_equal(ids.numpy()[real], want.indices.numpy()[real])
        assert not np.isin(ids.numpy()[real], forbidden).any()
    if vocab == 7001 and not ngram:  # chunk maxima, then k + 2 or 3 chunks, never 7001
        blocked = len(forbidden) + int(not isinstance(min_length, int) or min_length > 0)
        assert ranked_widths[:2] == [-(-vocab // TOP_K_CHUNK), (k + blocked) * TOP_K_CHUNK]
        assert vocab not in ranked_widths
