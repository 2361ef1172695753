"""Beam search: Model Garden parity, n-best scores, minimum length, n-gram blocking,
length limit, early stopping, empty batches."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.decoding import beam_search
from tests.decoding.common import (PAD, START, first_choice, frequent_token, has_repeated_ngram,
                                   official_beam_search, pad_after_end, setup,
                                   teacher_forced_score, unused_token)


def run(model, src, mask, **kwargs):
    kwargs = dict(dict(start_id=START, pad_id=PAD, beam_size=4, max_length=10), **kwargs)
    return {key: value.numpy() for key, value in beam_search(model, src, mask, **kwargs).items()}


def check_model_garden_parity(model, src, mask, beam_size, alpha, end):
    """keep_unfinished=False is Model Garden's algorithm: same hypotheses in every slot, same
    scores (its empty slots: score -1e7 and zeros; ours: -inf and padding). Returns its
    (ids, scores)."""
    want_ids, want_scores = official_beam_search(model, src, mask, beam_size=beam_size,
                                                 max_length=10, end_id=end, alpha=alpha)
    got = run(model, src, mask, beam_size=beam_size, end_id=end, alpha=alpha,
              keep_unfinished=False)
    empty = want_scores <= -1e6
    np.testing.assert_array_equal(got["ids"], np.where(empty[..., None], PAD,
                                                       pad_after_end(want_ids, end)))
    np.testing.assert_allclose(got["scores"], np.where(empty, -np.inf, want_scores), atol=1e-5)
    ended = (want_ids == end).any(-1)
    want_lengths = np.where(ended, (want_ids == end).argmax(-1), 10)
    np.testing.assert_array_equal(got["lengths"], np.where(empty, 0, want_lengths))
    assert ended.any(), "the end id must end some hypotheses, or the test shows little"
    return want_ids, want_scores


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
@pytest.mark.parametrize("beam_size", [1, 4])
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_equals_model_garden_sequence_beam_search(variant, beam_size, alpha):
    model, src, mask = setup(variant)
    check_model_garden_parity(model, src, mask, beam_size, alpha, frequent_token(variant))


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_equals_model_garden_when_it_stops_with_empty_slots(variant):
    """An end token that row 0 picks first: Model Garden stops before filling the slots."""
    model, src, mask = setup(variant)
    _, scores = check_model_garden_parity(model, src[:1], mask[:1], 4, 0.6,
                                          first_choice(model, src, mask))
    assert (scores <= -1e6).any()


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_n_best_sorted_and_scored_by_the_model(variant, alpha):
    """Every hypothesis' score is the teacher-forced log-likelihood (end token included) over
    the length penalty; the n-best are sorted and distinct."""
    model, src, mask = setup(variant)
    end = frequent_token(variant)
    out = run(model, src, mask, end_id=end, alpha=alpha, max_length=8, n_best=3)
    assert out["ids"].shape == (4, 3, 8) and out["scores"].shape == (4, 3)
    assert np.isfinite(out["scores"]).all()  # keep_unfinished: no empty slot
    assert (np.diff(out["scores"], axis=1) <= 0).all()
    ended = 0
    for b in range(4):
        hyps = set()
        for k in range(3):
            length = out["lengths"][b, k]
            has_end = length < 8
            ended += has_end
            tokens = out["ids"][b, k, :length + has_end]
            assert (tokens[:length] != end).all()
            assert (out["ids"][b, k, length + has_end:] == PAD).all()
            if has_end:
                assert tokens[-1] == end
            hyps.add(tuple(tokens))
            want = teacher_forced_score(model, src[b].numpy(), mask[b].numpy(), tokens, alpha)
            assert abs(out["scores"][b, k] - want) < 1e-4, (b, k, out["scores"][b, k], want)
        assert len(hyps) == 3
    assert ended, "some hypotheses should end before the limit"


@pytest.mark.slow
def test_min_length_forbids_an_early_end():
    model, src, mask = setup("bert2bert")
    end = first_choice(model, src, mask)  # row 0 would end at once
    free = run(model, src, mask, end_id=end, alpha=0.0)
    assert free["lengths"][0, 0] == 0
    out = run(model, src, mask, end_id=end, alpha=0.0, min_length=4)
    assert (out["lengths"] >= 4).all()
    assert (out["ids"][:, :, :4] != end).all()
    assert (out["lengths"] < 10).any(), "the end token is still allowed after min_length"


@pytest.mark.slow
def test_no_repeat_ngram_size():
    model, src, mask = setup("bert2bert")
    end = unused_token("bert2bert")
    free = run(model, src, mask, end_id=end, max_length=16)
    assert any(has_repeated_ngram(h, 3) for h in free["ids"].reshape(-1, 16))
    out = run(model, src, mask, end_id=end, max_length=16, no_repeat_ngram_size=3)
    for ids, length in zip(out["ids"].reshape(-1, 16), out["lengths"].ravel()):
        assert not has_repeated_ngram(ids[:length], 3)
    assert np.isfinite(out["scores"]).all()


@pytest.mark.slow
def test_length_limit_is_a_shorter_max_length():
    """A run-time length_limit gives what a static max_length of that value gives."""
    model, src, mask = setup("gpt")
    end = frequent_token("gpt")
    short = run(model, src, mask, end_id=end, max_length=6, alpha=0.6)
    limited = run(model, src, mask, end_id=end, max_length=10, alpha=0.6,
                  length_limit=tf.constant(6))
    np.testing.assert_array_equal(limited["ids"][:, :, :6], short["ids"])
    assert (limited["ids"][:, :, 6:] == PAD).all()
    np.testing.assert_array_equal(limited["lengths"], short["lengths"])
    np.testing.assert_allclose(limited["scores"], short["scores"], atol=1e-5)
    assert (short["lengths"] == 6).any(), "some hypotheses reach the limit"


@pytest.mark.slow
def test_keep_unfinished_fills_every_slot():
    """Where Model Garden's rule returns empty slots or unscored alive hypotheses, the
    default keeps the unfinished ones, scored with the length penalty of the limit."""
    model, src, mask = setup("gpt")
    end = frequent_token("gpt")
    official = run(model, src, mask, end_id=end, alpha=0.6, keep_unfinished=False)
    ours = run(model, src, mask, end_id=end, alpha=0.6)
    assert np.isinf(official["scores"]).any() or (official["lengths"] == 10).all(-1).any()
    assert np.isfinite(ours["scores"]).all()
    unfinished = ours["lengths"] == 10
    assert unfinished.any()
    for b, k in zip(*np.nonzero(unfinished)):
        want = teacher_forced_score(model, src[b].numpy(), mask[b].numpy(), ours["ids"][b, k], 0.6)
        assert abs(ours["scores"][b, k] - want) < 1e-4


class CountingModel:
    """Duck-typed model that counts decode steps (eager)."""

    def __init__(self, model):
        self.model, self.steps = model, 0

    def start_decoding(self, *args):
        return self.model.start_decoding(*args)

    def decode_step(self, state, tokens, step):
        self.steps += 1
        return self.model.decode_step(state, tokens, step)


def test_stops_early_when_no_alive_hypothesis_can_win():
    model, src, mask = setup("bert2bert")
    end = first_choice(model, src[:1], mask[:1])
    counting = CountingModel(model)
    out = run(counting, src[:1], mask[:1], end_id=end, alpha=0.0, max_length=30)
    assert counting.steps < 30
    assert out["lengths"][0, 0] == 0 and np.isfinite(out["scores"]).all()


class RecordingModel(CountingModel):
    """Also records the state each decode step receives."""

    def __init__(self, model):
        super().__init__(model)
        self.states = []

    def start_decoding(self, *args):
        self.start_args = args
        return self.model.start_decoding(*args)

    def decode_step(self, state, tokens, step):
        self.states.append(state)
        return super().decode_step(state, tokens, step)


def test_the_search_keeps_cross_attention_keys_once_per_source():
    """beam_search asks the model for `beam_size` cache rows per source and passes the
    constants through untouched: the cross-attention keys stay [sources, ...], not one copy
    per beam."""
    model, src, mask = setup("bert2bert")
    recording = RecordingModel(model)
    run(recording, src, mask, end_id=5, beam_size=3, max_length=4)
    assert recording.start_args[3] == 3
    state = recording.states[0]
    assert state.cache[0][0].shape[0] == 3 * src.shape[0]
    assert state.constants.cross_key_values[0][0].shape[0] == src.shape[0]


def test_empty_batch():
    model, src, mask = setup("gpt")
    out = run(model, src[:0], mask[:0], end_id=5, n_best=2)
    assert out["ids"].shape == (0, 2, 10) and out["lengths"].shape == (0, 2)
    assert out["scores"].shape == (0, 2)


def test_n_best_must_fit_the_beam():
    model, src, mask = setup("bert2bert")
    with pytest.raises(ValueError, match="n_best"):
        beam_search(model, src, mask, beam_size=2, n_best=3, max_length=4, start_id=START,
                    end_id=5, pad_id=PAD)
