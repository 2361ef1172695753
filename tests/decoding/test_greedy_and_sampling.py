"""Greedy search and sampling: relation to beam search, minimum length, n-gram blocking,
seeds, empty batches."""
import numpy as np
import pytest

from bert2bert.config import DecodeConfig
from bert2bert.decoding import beam_search, decode, greedy_decode, sample_decode
from tests.decoding.common import (PAD, START, first_choice, frequent_token,
                                   has_repeated_ngram, setup, special_tokens,
                                   teacher_forced_score, unused_token)


def greedy(model, src, mask, end_id, max_length=10, **kwargs):
    ids, lengths = greedy_decode(model, src, mask, max_length, START, end_id, **kwargs)
    return ids.numpy(), lengths.numpy()


def sample(model, src, mask, end_id, max_length=10, seed=7, **kwargs):
    ids, lengths = sample_decode(model, src, mask, max_length=max_length, start_id=START,
                                 end_id=end_id, pad_id=PAD, seed=seed, **kwargs)
    return ids.numpy(), lengths.numpy()


def beam(model, src, mask, end_id, **kwargs):
    out = beam_search(model, src, mask, start_id=START, end_id=end_id, pad_id=PAD, **kwargs)
    return {key: value.numpy() for key, value in out.items()}


@pytest.mark.slow
def test_greedy_keeps_its_old_contract():
    """Positional call as evaluation.py makes it: the end id fills the rest of the row."""
    model, src, mask = setup("bert2bert")
    end = frequent_token("bert2bert")
    ids, lengths = greedy(model, src, mask, end)
    assert ids.shape == (4, 10) and ids.dtype == np.int32
    assert (lengths < 10).any()
    for row, length in zip(ids, lengths):
        assert (row[:length] != end).all() and (row[length:] == end).all()
    padded, padded_lengths = greedy(model, src, mask, end, pad_id=PAD)
    np.testing.assert_array_equal(padded_lengths, lengths)
    for row, length in zip(padded, lengths):
        assert (row[length + 1:] == PAD).all()


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_beam_of_one_follows_the_greedy_path(variant):
    """With one beam and alpha 0, beam search keeps the greedy hypothesis alive; what it
    returns is the greedy hypothesis, or one that leaves the greedy path only by ending
    (the end token was the runner-up there), with a better log-likelihood."""
    model, src, mask = setup(variant)
    end = frequent_token(variant)
    # With the end token forbidden throughout, both produce exactly the greedy path.
    ids, lengths = greedy(model, src, mask, end, min_length=10)
    out = beam(model, src, mask, end, beam_size=1, max_length=10, alpha=0.0, min_length=10)
    np.testing.assert_array_equal(out["ids"][:, 0], ids)
    np.testing.assert_array_equal(out["lengths"][:, 0], lengths)

    ids, lengths = greedy(model, src, mask, end)
    out = beam(model, src, mask, end, beam_size=1, max_length=10, alpha=0.0)
    same = 0
    for b in range(4):
        hyp, length = out["ids"][b, 0], out["lengths"][b, 0]
        if length == lengths[b]:
            np.testing.assert_array_equal(hyp, np.where(np.arange(10) > length, PAD, ids[b]))
            same += 1
            continue
        assert length < lengths[b] and hyp[length] == end
        np.testing.assert_array_equal(hyp[:length], ids[b, :length])
        greedy_tokens = ids[b, :lengths[b] + (lengths[b] < 10)]
        assert out["scores"][b, 0] > teacher_forced_score(model, src[b].numpy(), mask[b].numpy(),
                                                          greedy_tokens, 0.0)
    assert same, "most rows: the greedy hypothesis itself"


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["greedy", "sample"])
def test_min_length(decoder):
    model, src, mask = setup("bert2bert")
    end = first_choice(model, src, mask)  # row 0 would end at once
    run = greedy if decoder == "greedy" else sample
    kwargs = {} if decoder == "greedy" else dict(temperature=0.5)
    _, free = run(model, src, mask, end, **kwargs)
    assert free[0] == 0
    ids, lengths = run(model, src, mask, end, min_length=4, **kwargs)
    assert (lengths >= 4).all() and (ids[:, :4] != end).all()


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["greedy", "sample"])
def test_no_repeat_ngram_size(decoder):
    model, src, mask = setup("bert2bert")
    end = unused_token("bert2bert")
    run = greedy if decoder == "greedy" else sample
    kwargs = {} if decoder == "greedy" else dict(temperature=0.7)
    ids, _ = run(model, src, mask, end, max_length=16, **kwargs)
    assert any(has_repeated_ngram(row, 3) for row in ids)
    ids, lengths = run(model, src, mask, end, max_length=16, no_repeat_ngram_size=3, **kwargs)
    for row, length in zip(ids, lengths):
        assert not has_repeated_ngram(row[:length], 3)


@pytest.mark.slow
def test_sampling_seeds():
    model, src, mask = setup("gpt")
    end = frequent_token("gpt")
    first = sample(model, src, mask, end, seed=3)
    np.testing.assert_array_equal(sample(model, src, mask, end, seed=3)[0], first[0])
    np.testing.assert_array_equal(sample(model, src, mask, end, seed=np.array([3, 0]))[0],
                                  first[0])
    assert (sample(model, src, mask, end, seed=4)[0] != first[0]).any()
    assert (sample(model, src, mask, end, seed=np.array([3, 1]))[0] != first[0]).any()
    ids, lengths = first
    for row, length in zip(ids, lengths):
        assert (row[length + 1:] == PAD).all() and (row[:length] != end).all()


@pytest.mark.slow
def test_sampling_without_randomness_is_greedy():
    model, src, mask = setup("gpt")
    end = frequent_token("gpt")
    want, _ = greedy(model, src, mask, end, pad_id=PAD)
    np.testing.assert_array_equal(sample(model, src, mask, end, top_k=1)[0], want)
    np.testing.assert_array_equal(sample(model, src, mask, end, temperature=1e-6)[0], want)
    np.testing.assert_array_equal(sample(model, src, mask, end, top_p=1e-6)[0], want)
    assert (sample(model, src, mask, end)[0] != want).any(), "plain sampling is not greedy"


@pytest.mark.slow
def test_top_k_and_top_p_restrict_the_choice():
    """Each sampled token is among the k best (resp. the nucleus) of its step: checked by
    feeding the sampled prefix back through greedy's log-probs."""
    model, src, mask = setup("bert2bert")
    end = unused_token("bert2bert")
    for kwargs in (dict(top_k=3), dict(top_p=0.5)):
        ids, _ = sample(model, src, mask, end, max_length=6, **kwargs)
        decoder_in = np.concatenate([np.full((4, 1), START), ids[:, :-1]], 1).astype("int32")
        logits = model({"encoder_token_ids": src, "encoder_padding_mask": mask,
                        "decoder_token_ids": decoder_in,
                        "decoder_padding_mask": np.ones_like(decoder_in)}).numpy()
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        chosen = np.take_along_axis(probs, ids[..., None], -1)[..., 0]
        better = (probs > chosen[..., None]).sum(-1)  # tokens more likely than the chosen one
        if "top_k" in kwargs:
            assert (better < 3).all()
        else:
            mass_before = np.where(probs > chosen[..., None], probs, 0).sum(-1)
            assert (mass_before < 0.5 + 1e-6).all()
        assert (better > 0).any(), "not greedy"


def test_empty_batch():
    model, src, mask = setup("bert2bert")
    ids, lengths = greedy(model, src[:0], mask[:0], 5)
    assert ids.shape == (0, 10) and lengths.shape == (0,)
    ids, lengths = sample(model, src[:0], mask[:0], 5)
    assert ids.shape == (0, 10) and lengths.shape == (0,)


@pytest.mark.slow
def test_decode_dispatches_on_beam_size():
    model, src, mask = setup("bert2bert")
    end = frequent_token("bert2bert")
    tokens = special_tokens(end)
    config = DecodeConfig(beam_size=1, max_length=10, min_length=1, no_repeat_ngram_size=2)
    ids, lengths = decode(model, src, mask, config, tokens)
    want = greedy(model, src, mask, end, pad_id=PAD, min_length=1, no_repeat_ngram_size=2)
    np.testing.assert_array_equal(ids.numpy(), want[0])
    np.testing.assert_array_equal(lengths.numpy(), want[1])
    config = DecodeConfig(beam_size=3, alpha=0.8, min_length=1, no_repeat_ngram_size=2)
    ids, lengths = decode(model, src, mask, config, tokens, max_length=8)
    out = beam(model, src, mask, end, beam_size=3, max_length=8, alpha=0.8, min_length=1,
               no_repeat_ngram_size=2)
    np.testing.assert_array_equal(ids.numpy(), out["ids"][:, 0])
    np.testing.assert_array_equal(lengths.numpy(), out["lengths"][:, 0])
    with pytest.raises(ValueError, match="max_length"):
        decode(model, src, mask, DecodeConfig(), tokens)
