"""`model.decoder_start: mask`: the decoder starts from [MASK] at position 1, so that decoder
position p holds the word the source holds at p (README "The first output token").

Pinned here: the positions the decoder reads (row 0 of its position table is never used, row 1
is the first step's), cached decoding equal to the full pass, the start id in the batches, in
evaluation and in the export's generator, and one-line errors for models and vocabularies that
cannot start from a mask token.
"""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import ConfigError, load_config, validate
from bert2bert.data.features import PairEncoder
from bert2bert.decoding import never_generated
from bert2bert.resolve import model_spec
from bert2bert.spec import SpecError
from bert2bert.text.special_tokens import SpecialTokens
from tests.helpers import random_inputs, tiny_config, tiny_model
from tests.models.test_variants import greedy_cached_vs_full

BERT_TOKENS = SpecialTokens(start_id=2, end_id=3, pad_id=0, unk_id=1, start_token="[CLS]",
                            end_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_id=4,
                            mask_token="[MASK]")


def logits(model, inputs):
    return model({k: tf.constant(v) for k, v in inputs.items()}, training=False).numpy()


def perturbed_row(model, row):
    """The model's logits after adding noise to row `row` of the decoder's position table."""
    table = model.decoder.embeddings.position_embeddings.embeddings
    saved = table.numpy()
    noisy = saved.copy()
    noisy[row] += np.random.default_rng(row).normal(0, 1.0, noisy.shape[1])
    table.assign(noisy)
    try:
        return logits(model, random_inputs(model))
    finally:
        table.assign(saved)


@pytest.mark.parametrize("start", ["start", "mask"])
def test_mask_start_numbers_decoder_positions_from_1(start):
    model = tiny_model("bert2bert", decoder_start=start)
    assert model.spec.decoder_start == start
    base = logits(model, random_inputs(model))
    row0, row1 = perturbed_row(model, 0), perturbed_row(model, 1)
    if start == "mask":
        np.testing.assert_array_equal(row0, base)  # position row 0 is never read
        assert np.abs(row1[:, 0] - base[:, 0]).max() > 1e-3  # the first step reads row 1
    else:
        assert np.abs(row0[:, 0] - base[:, 0]).max() > 1e-3


@pytest.mark.parametrize("variant", ["bert2bert", "bertShare", "robertaShare", "bert2rnd"])
def test_cached_decoding_equals_the_full_pass_with_mask_start(variant):
    model = tiny_model(variant, decoder_start="mask")
    cached, full = greedy_cached_vs_full(model, random_inputs(model), steps=6)
    np.testing.assert_allclose(cached, full, atol=1e-5, rtol=0)
    # ... and the shift is real: the same weights without it give other numbers
    plain = tiny_model(variant, decoder_start="start")
    plain.set_weights(model.get_weights())
    assert np.abs(greedy_cached_vs_full(plain, random_inputs(model), steps=6)[1]
                  - full).max() > 1e-3


def test_the_model_says_which_id_starts_the_decoder():
    spec = model_spec(tiny_config("bert2bert", decoder_start="mask"))
    assert spec.start_id(BERT_TOKENS) == 4
    assert model_spec(tiny_config("bert2bert")).start_id(BERT_TOKENS) == 2
    no_mask = dataclasses.replace(BERT_TOKENS, mask_id=None, mask_token=None)
    with pytest.raises(SpecError, match="decoder_start is 'mask' but the target vocabulary "
                                        "of bert2bert has no mask token"):
        spec.start_id(no_mask)
    # neither the vocabulary's start token nor the model's is ever generated
    assert never_generated(BERT_TOKENS, 4) == (0, 2, 4)
    assert never_generated(BERT_TOKENS) == (0, 2)


@pytest.mark.parametrize("variant, why", [("gpt", "has no encoder"),
                                          ("bert2gpt", "GPT-2's, which has no mask token")])
def test_models_that_cannot_start_from_a_mask_say_so_in_one_line(variant, why):
    with pytest.raises(ConfigError) as e:
        model_spec(tiny_config(variant, decoder_start="mask"))
    assert why in str(e.value) and "decoder_start" in str(e.value)
    assert "\n" not in str(e.value)


def test_the_shift_needs_one_more_position_row(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model: {variant: bert2bert, max_position_embeddings: 64}\n"
                      "task: {max_source_length: 64, max_target_length: 64}\n")
    assert validate(load_config(str(config))).model.decoder_start == "start"
    with pytest.raises(ConfigError, match=r"'task.max_target_length' is 64; valid range: <= 63"):
        validate(load_config(str(config), ["model.decoder_start=mask"]))
    with pytest.raises(ConfigError, match="decoder_start"):
        load_config(str(config), ["model.decoder_start=cls"])


class _Tokenizer:
    """Enough of a tokenizer for PairEncoder: ids are the strings' lengths."""
    family, vocab_size, special_tokens = "bert", 97, BERT_TOKENS

    def tokenize(self, strings):
        return tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.shape(strings)[0]], 7), tf.ones([tf.shape(strings)[0]], tf.int64))


def test_decoder_inputs_begin_with_the_given_start_id():
    tok = _Tokenizer()
    strings = tf.constant(["a", "b"])
    for start_id, first in ((None, 2), (4, 4)):
        decoder, labels = PairEncoder(tok, tok, 8, 8, start_id=start_id).targets(strings)
        assert decoder.to_list() == [[first, 7], [first, 7]]
        assert labels.to_list() == [[7, 3], [7, 3]]


def test_a_vocabulary_without_a_mask_token_is_refused_before_the_model_is_built(
        tmp_path, monkeypatch):
    from bert2bert import factory
    from bert2bert.config import Config, ModelConfig, TaskConfig
    from tests.fixtures.checkpoints import write_bert_tf1
    from tests.fixtures.vocab import bert_vocab_tokens

    tokens = [t for t in bert_vocab_tokens(99) if t != "[MASK]"]
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    ckpt = write_bert_tf1(str(tmp_path / "bert"), vocab_txt=str(tmp_path / "vocab.txt"),
                          hidden_size=8, num_heads=2, intermediate_size=16, num_layers=1)
    monkeypatch.setattr(factory, "build_model", lambda *a, **k: pytest.fail("model built"))
    config = Config(model=ModelConfig(variant="bert2bert", decoder_start="mask",
                                      encoder_checkpoint=ckpt.directory,
                                      decoder_checkpoint=ckpt.directory),
                    task=TaskConfig(max_source_length=32, max_target_length=32))
    with pytest.raises(SpecError, match="target vocabulary of bert2bert has no mask token"):
        factory.warm_started(config)
