"""The first output token (issue: exact match 0 in the demo, the first word always wrong).

Pinned: decoding is not the culprit. The first decoding step sees exactly what teacher forcing
gives position 0 (same logits), for the paper's random cross-attention and for the one copied
from self-attention; a trained demo model predicts the same wrong first token both ways. The
cause is in what position 0 learns (README, "The first output token").
"""
import numpy as np
import pytest
import tensorflow as tf

from tests.decoding.common import START
from tests.helpers import random_inputs, tiny_model


@pytest.mark.parametrize("variant, start", [("bert2bert", "start"), ("bertShare", "start"),
                                            ("bert2gpt", "start"), ("bert2bert", "mask"),
                                            ("bertShare", "mask")])
@pytest.mark.parametrize("init", ["random", "self_attention"])
def test_first_decoding_step_sees_what_teacher_forcing_gives_position_0(variant, start, init):
    model = tiny_model(variant, cross_attention_init=init, decoder_start=start)
    inputs = random_inputs(model)
    inputs["decoder_token_ids"][:, 0] = START  # teacher forcing: [start] + target
    forced = model({k: tf.constant(v) for k, v in inputs.items()}, training=False).numpy()[:, 0]
    state = model.start_decoding(inputs["encoder_token_ids"], inputs["encoder_padding_mask"], 4)
    first, _ = model.decode_step(state, tf.fill([forced.shape[0]], START), 0)
    np.testing.assert_allclose(first.numpy(), forced, atol=1e-5, rtol=0)
    # ... and it is position 0 that the first step reproduces, not another one
    assert np.abs(first.numpy() - model({k: tf.constant(v) for k, v in inputs.items()},
                                        training=False).numpy()[:, 1]).max() > 1e-3
