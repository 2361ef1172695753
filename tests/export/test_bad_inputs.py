"""Hostile input to the exported serving_default and beam_search signatures: every input gets
an output, nothing crashes or hangs (the pytest timeout catches a hang)."""
import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import BEAM

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("export_bad_inputs")]  # one load

CASES = {
    "empty": [b""],
    "whitespace_only": [b"   \t \n\r  "],
    "100k_characters": [b"x" * 100_000, ("word " * 20_000).encode()],
    "invalid_utf8": [b"\xff\xfe\xfd", b"ok \xc3\x28 \xa0\xa1 \xe2\x82", b"\xf0\x28\x8c\x28"],
    "nul_and_control": [b"a\x00b\x01c\x07d\x1b[31m", b"\x00\x00\x00", b"\x7f\x85\x9c"],
    "emoji_and_cjk": ["😀🎉 你好，世界 こんにちは 안녕하세요 👩‍👩‍👧".encode(),
                      "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﷽ ‮rtl".encode()],
    "batch_of_0": [],
    "batch_of_256": [f"sentence number {i} .".encode() for i in range(256)],
}


@pytest.fixture(scope="module")
def signatures(bert_export):
    return tf.saved_model.load(bert_export).signatures


@pytest.mark.parametrize("case", sorted(CASES))
def test_serving_default_answers_every_input(signatures, case):
    inputs = tf.constant(CASES[case], dtype=tf.string, shape=[len(CASES[case])])
    outputs = signatures["serving_default"](inputs=inputs)["outputs"].numpy()
    assert outputs.shape == (len(CASES[case]),)
    for text in outputs:
        text.decode("utf-8")  # valid UTF-8 out, always


@pytest.mark.parametrize("case", sorted(CASES))
def test_beam_search_answers_every_input(signatures, case):
    inputs = tf.constant(CASES[case], dtype=tf.string, shape=[len(CASES[case])])
    out = signatures["beam_search"](inputs=inputs, alpha=tf.constant(0.8),
                                    max_length=tf.constant(5), min_length=tf.constant(2))
    n = len(CASES[case])
    assert out["outputs"].shape == (n, BEAM)
    assert out["scores"].shape == (n, BEAM)
    assert np.all(np.isfinite(out["scores"].numpy()))


def test_long_input_is_cut_to_the_max_source_length(signatures):
    """A 100,000-character input gives the same answer as its first words: it is truncated."""
    long = ("word " * 20_000).encode()
    short = ("word " * 40).encode()
    out = signatures["serving_default"](inputs=tf.constant([long, short]))["outputs"].numpy()
    assert out[0] == out[1]


def test_runtime_scalars_out_of_range_are_clamped(signatures):
    out = signatures["beam_search"](inputs=tf.constant([b"a b c"]), alpha=tf.constant(-3.0),
                                    max_length=tf.constant(10_000),
                                    min_length=tf.constant(-5))
    assert out["outputs"].shape == (1, BEAM)
    out = signatures["beam_search"](inputs=tf.constant([b"a b c"]), alpha=tf.constant(0.6),
                                    max_length=tf.constant(0), min_length=tf.constant(99))
    assert out["outputs"].shape == (1, BEAM)
