"""Every decoder compiles with XLA and gives what it gives eagerly."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.decoding import beam_search, greedy_decode, sample_decode
from tests.decoding.common import PAD, START, frequent_token, setup

pytestmark = pytest.mark.slow


def compiled(fn, *args):
    return tf.function(fn, jit_compile=True)(*args)


def numpy(tree):
    return tf.nest.map_structure(lambda t: t.numpy(), tree)


@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_beam_search_compiles_with_runtime_arguments(variant):
    model, src, mask = setup(variant)
    end = frequent_token(variant)
    settings = dict(beam_size=3, max_length=10, start_id=START, end_id=end, pad_id=PAD,
                    no_repeat_ngram_size=2)

    @tf.function(jit_compile=True)
    def search(src, mask, alpha, min_length, limit):
        return beam_search(model, src, mask, alpha=alpha, min_length=min_length,
                           length_limit=limit, **settings)

    for alpha, min_length, limit in [(0.6, 2, 8), (0.0, 0, 10)]:
        got = numpy(search(src, mask, tf.constant(alpha), tf.constant(min_length),
                           tf.constant(limit)))
        want = numpy(beam_search(model, src, mask, alpha=alpha, min_length=min_length,
                                 length_limit=limit, **settings))
        np.testing.assert_array_equal(got["ids"], want["ids"])
        np.testing.assert_array_equal(got["lengths"], want["lengths"])
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-4)
        assert (got["lengths"] >= min_length).all() and (got["lengths"] <= limit).all()
    assert search.experimental_get_tracing_count() == 1, "run-time arguments, one program"


def test_beam_search_official_mode_compiles():
    model, src, mask = setup("bert2bert")
    end = frequent_token("bert2bert")
    kwargs = dict(beam_size=4, max_length=10, start_id=START, end_id=end, pad_id=PAD,
                  alpha=0.6, keep_unfinished=False)
    got = numpy(compiled(lambda s, m: beam_search(model, s, m, **kwargs), src, mask))
    want = numpy(beam_search(model, src, mask, **kwargs))
    np.testing.assert_array_equal(got["ids"], want["ids"])
    np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-4)
    empty = compiled(lambda s, m: beam_search(model, s, m, **kwargs), src[:0], mask[:0])
    assert empty["ids"].shape == (0, 4, 10)


def test_greedy_and_sampling_compile():
    model, src, mask = setup("gpt")
    end = frequent_token("gpt")

    def greedy(src, mask):
        return greedy_decode(model, src, mask, 10, START, end, pad_id=PAD, min_length=1,
                             no_repeat_ngram_size=2)

    def sample(src, mask, seed):
        return sample_decode(model, src, mask, max_length=10, start_id=START, end_id=end,
                             pad_id=PAD, seed=seed, temperature=0.8, top_k=20, top_p=0.95,
                             no_repeat_ngram_size=2)

    for got, want in [(compiled(greedy, src, mask), greedy(src, mask)),
                      (compiled(sample, src, mask, tf.constant([5, 6])),
                       sample(src, mask, tf.constant([5, 6])))]:
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    assert compiled(greedy, src[:0], mask[:0])[0].shape == (0, 10)
