"""Beam search with `early_stopping=True` (transformers' `generate(num_beams=k,
early_stopping=True)`), checked against a plain-Python beam search that scores every
extension with a full teacher-forced pass. (That it gives transformers' own outputs on a
trained model is measured by benchmarks/peer_learning.py: 300 of 300 identical.)"""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.decoding import beam_search, length_penalty
from tests.decoding.common import PAD, START, frequent_token, setup, unused_token
from tests.decoding.test_beam_search import CountingModel

MAX_LENGTH = 10


def full_pass_log_probs(model, src, mask, prefixes):
    """log p(next token | source, prefix) [N, V] from one teacher-forced pass over N
    (source row, prefix) pairs, all prefixes of one length."""
    rows = [r for r, _ in prefixes]
    decoder_in = np.array([[START] + list(p) for _, p in prefixes], "int32")
    logits = model({"encoder_token_ids": tf.gather(src, rows),
                    "encoder_padding_mask": tf.gather(mask, rows),
                    "decoder_token_ids": decoder_in,
                    "decoder_padding_mask": np.ones_like(decoder_in)}, training=False)
    return tf.nn.log_softmax(logits[:, -1]).numpy().astype("float64")


def reference(model, src, mask, beam_size, alpha, end_id):
    """Per source: (finished hypotheses best first, steps it ran), by transformers' rule:
    alive / finished beams, 2k candidates; a candidate that ends joins the finished pool
    (best k kept) only if it ranks among the best k; a source stops once its pool is full;
    at the length limit the alive ones join."""
    rows = range(src.shape[0])
    alive = {b: [((), 0.0)] for b in rows}
    finished, done = {b: [] for b in rows}, {}
    for step in range(MAX_LENGTH):
        live = [b for b in rows if b not in done]
        if not live:
            break
        pairs = [(b, prefix) for b in live for prefix, _ in alive[b]]
        log_probs = iter(full_pass_log_probs(model, src, mask, pairs))
        for b in live:
            candidates = []
            for prefix, score in alive[b]:
                candidates += [(prefix + (t,), score + lp) for t, lp in enumerate(next(log_probs))]
            candidates = sorted(candidates, key=lambda c: -c[1])[:2 * beam_size]
            alive[b] = [c for c in candidates if c[0][-1] != end_id][:beam_size]
            joins = [c for c in candidates[:beam_size] if c[0][-1] == end_id]
            if step + 1 == MAX_LENGTH:
                joins += alive[b]
            finished[b] = sorted(finished[b] + [(ids, s / float(length_penalty(step + 1, alpha)))
                                                for ids, s in joins],
                                 key=lambda c: -c[1])[:beam_size]
            if len(finished[b]) == beam_size:
                done[b] = step + 1
    return {b: (finished[b], done.get(b, MAX_LENGTH)) for b in rows}


@pytest.mark.slow
@pytest.mark.parametrize("variant,alpha,ends", [("bert2bert", 0.0, "often"),
                                                ("gpt", 0.6, "often"),
                                                ("bert2bert", 0.6, "never")])
def test_early_stopping_equals_the_reference(variant, alpha, ends):
    """`ends`: the end id is a frequent token (pools fill early) or one never produced
    (every hypothesis runs to the limit and the alive ones join there)."""
    model, src, mask = setup(variant)
    end = frequent_token(variant) if ends == "often" else unused_token(variant)
    out = {k: v.numpy() for k, v in beam_search(
        model, src, mask, beam_size=3, max_length=MAX_LENGTH, start_id=START, end_id=end,
        pad_id=PAD, alpha=alpha, early_stopping=True).items()}
    for b, (want, _) in reference(model, src, mask, 3, alpha, end).items():
        for k, (ids, score) in enumerate(want):
            length = len(ids) - (ids[-1] == end)
            assert out["lengths"][b, k] == length
            np.testing.assert_array_equal(out["ids"][b, k, :len(ids)], ids)
            assert abs(out["scores"][b, k] - score) < 1e-4
    if ends == "never":
        assert (out["lengths"] == MAX_LENGTH).all()
    else:
        assert (out["lengths"] < MAX_LENGTH).any()


@pytest.mark.slow
def test_early_stopping_stops_when_the_last_pool_fills():
    """The search runs until the last source's pool is full, not longer (the sources that
    filled theirs sooner are not changed meanwhile: the test above checks every row)."""
    model, src, mask = setup("bert2bert")
    end = frequent_token("bert2bert")
    steps = {}
    for early in (False, True):
        counting = CountingModel(model)
        beam_search(counting, src, mask, beam_size=3, max_length=MAX_LENGTH, start_id=START,
                    end_id=end, pad_id=PAD, alpha=0.0, early_stopping=early)
        steps[early] = counting.steps
    want = max(steps_run for _, steps_run in reference(model, src, mask, 3, 0.0, end).values())
    assert steps[True] == want, steps
    assert steps[True] <= steps[False]


@pytest.mark.slow
def test_the_setting_reaches_the_search_from_config_and_cli():
    """`decode.early_stopping` (config, `--early_stopping`) is what `decode` runs."""
    from bert2bert.cli import _decode_overrides, build_parser
    from bert2bert.config import DecodeConfig
    from bert2bert.decoding import decode
    from tests.decoding.common import special_tokens

    args = build_parser().parse_args(["export", "--model_dir", "m", "--output", "o",
                                      "--early_stopping"])
    assert _decode_overrides(args)["early_stopping"] is True
    args = build_parser().parse_args(["export", "--model_dir", "m", "--output", "o"])
    assert _decode_overrides(args)["early_stopping"] is None  # the run's setting stays
    model, src, mask = setup("bert2bert")
    end = frequent_token("bert2bert")
    for early in (False, True):
        ids, _ = decode(model, src, mask, DecodeConfig(beam_size=3, max_length=MAX_LENGTH,
                                                       early_stopping=early),
                        special_tokens(end))
        want = beam_search(model, src, mask, beam_size=3, max_length=MAX_LENGTH,
                           start_id=START, end_id=end, pad_id=PAD, alpha=0.6, n_best=1,
                           early_stopping=early, forbidden_ids=(START, PAD))
        np.testing.assert_array_equal(ids.numpy(), want["ids"][:, 0].numpy())
