"""Beam search with one alpha, min_length and length limit per source (what TF Serving's
server-side batching needs to merge requests with different settings): each source gets
exactly what a search of that source alone with its own scalar settings gives."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.decoding import beam_search
from tests.decoding.common import NEVER, PAD, START, frequent_token, setup

pytestmark = pytest.mark.slow  # 4 searches per case on 2 cores

ALPHAS = [0.0, 0.6, 1.5, 3.0]
LIMITS = [3, 8, 5, 8]  # sources 0 and 2 stop while the others go on
MIN_LENGTHS = [0, 2, 4, 1]


def search(model, src, mask, alpha, limit, min_length, end_id=None, **rules):
    return beam_search(model, src, mask, beam_size=3, max_length=8, start_id=START,
                       end_id=frequent_token("bert2bert") if end_id is None else end_id,
                       pad_id=PAD, alpha=alpha, length_limit=limit, min_length=min_length,
                       **rules)


@pytest.mark.parametrize("rules", [
    {}, {"keep_unfinished": False}, {"early_stopping": True},
    # nothing ends: with keep_unfinished=False each source returns its alive hypotheses,
    # which must stop growing at the source's own limit
    {"keep_unfinished": False, "end_id": NEVER},
    {"keep_unfinished": False, "early_stopping": True, "end_id": NEVER}],
    ids=["default", "model_garden", "early_stopping", "model_garden_unended",
         "early_unended"])
def test_per_source_settings_equal_searching_each_source_alone(rules):
    model, src, mask = setup("bert2bert")
    together = search(model, src, mask, tf.constant(ALPHAS), tf.constant(LIMITS),
                      tf.constant(MIN_LENGTHS), **rules)
    for i, settings in enumerate(zip(ALPHAS, LIMITS, MIN_LENGTHS)):
        alone = search(model, src[i:i + 1], mask[i:i + 1], *settings, **rules)
        np.testing.assert_array_equal(together["ids"][i].numpy(), alone["ids"][0].numpy())
        np.testing.assert_array_equal(together["lengths"][i].numpy(),
                                      alone["lengths"][0].numpy())
        np.testing.assert_allclose(together["scores"][i].numpy(), alone["scores"][0].numpy(),
                                   rtol=1e-5)
    lengths = together["lengths"].numpy()
    real = together["scores"].numpy() > -np.inf
    assert np.all(np.where(real, lengths, 0) <= np.array(LIMITS)[:, None])
    # the settings differ enough to matter: one setting for all gives other hypotheses
    same = search(model, src, mask, 0.6, 8, 0, **rules)
    assert not np.array_equal(same["ids"].numpy(), together["ids"].numpy())


def test_scalar_settings_are_unchanged_by_the_per_source_path():
    model, src, mask = setup("bert2bert")
    scalar = search(model, src, mask, 0.6, 5, 2)
    vector = search(model, src, mask, tf.fill([4], 0.6), tf.fill([4], 5), tf.fill([4], 2))
    for key in ("ids", "lengths", "scores"):
        np.testing.assert_array_equal(scalar[key].numpy(), vector[key].numpy())
