"""Numerical parity with independent implementations given the same weights (float32, 1e-5)."""
import numpy as np
import pytest
from keras import ops

from bert2bert.checkpoints import build_warm_started_model
from bert2bert.config import ModelConfig, StackOverrides
from bert2bert.models.seq2seq import causal_mask
from tests.fixtures.keras_hub_ref import load_keras_hub_backbone
from tests.fixtures.pytest_plugin import encoder_inputs

pytestmark = pytest.mark.slow


def our_encoder(path, **stack):
    cfg = ModelConfig(variant="bert2rnd", encoder_checkpoint=path, dropout=0.0,
                      attention_dropout=0.0, encoder=StackOverrides(**stack))
    model, _ = build_warm_started_model(cfg)
    return model


@pytest.fixture(scope="module")
def model_garden_reference(bert_tf1, model_garden_outputs):
    """Model Garden's BertEncoder restored from model_garden_tf2 (the session fixture's
    tf-models-official subprocess ran it on encoder_inputs(vocab), one segment)."""
    ids, mask = encoder_inputs(bert_tf1.config["vocab_size"])
    out = model_garden_outputs["untyped"]
    np.testing.assert_array_equal(out["inputs"]["input_word_ids"], ids)
    np.testing.assert_array_equal(out["inputs"]["input_mask"], mask)
    assert not out["inputs"]["input_type_ids"].any()
    return ids, mask, out["sequence_output"]


@pytest.mark.parametrize("source", ["bert_tf1", "tfhub_bert", "model_garden_tf2"])
def test_bert_encoder_equals_model_garden(request, source, model_garden_reference):
    fixture = request.getfixturevalue(source)
    path = fixture if isinstance(fixture, str) else fixture.directory
    ids, mask, expected = model_garden_reference
    ours = ops.convert_to_numpy(our_encoder(path).encode(ids, mask))
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], expected[real], atol=1e-5, rtol=0)
    assert np.abs(expected).max() > 0.1


def test_bert_encoder_equals_keras_hub_on_hf_form(hf_bert):
    ids, mask = encoder_inputs(hf_bert.config["vocab_size"])
    # Hugging Face "gelu" is exact; keras_hub's BertBackbone always uses tanh: match it.
    ours = ops.convert_to_numpy(our_encoder(hf_bert.directory, approximate_gelu=True).encode(ids, mask))
    backbone = load_keras_hub_backbone("bert", hf_bert.directory)
    ref = ops.convert_to_numpy(backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
                                         "padding_mask": mask})["sequence_output"])
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], atol=1e-5, rtol=0)


def test_roberta_encoder_equals_keras_hub(hf_roberta):
    cfg = ModelConfig(variant="robertaShare", encoder_checkpoint=hf_roberta.directory,
                      dropout=0.0, attention_dropout=0.0)
    model, _ = build_warm_started_model(cfg)
    ids, mask = encoder_inputs(model.spec.encoder.vocab_size)
    ours = ops.convert_to_numpy(model.encode(ids, mask))
    backbone = load_keras_hub_backbone("roberta", hf_roberta.directory)
    ref = ops.convert_to_numpy(backbone({"token_ids": ids, "padding_mask": mask}))
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], atol=1e-5, rtol=0)


@pytest.mark.parametrize("source", ["gpt2_tf1", "hf_gpt2"])
def test_gpt2_decoder_equals_keras_hub(request, source, hf_gpt2):
    fixture = request.getfixturevalue(source)
    cfg = ModelConfig(variant="gpt", decoder_checkpoint=fixture.directory, dropout=0.0,
                      attention_dropout=0.0)
    model, _ = build_warm_started_model(cfg)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, model.spec.decoder.vocab_size, (2, 9)).astype("int32")
    mask = np.ones_like(ids)
    hidden = model.decoder(ids, self_mask=causal_mask(9)[None])
    backbone = load_keras_hub_backbone("gpt2", hf_gpt2.directory)
    ref = ops.convert_to_numpy(backbone({"token_ids": ids, "padding_mask": mask}))
    np.testing.assert_allclose(ops.convert_to_numpy(hidden), ref, atol=1e-5, rtol=0)
    # And the tied output projection gives GPT-2's logits.
    wte = hf_gpt2.weights["wte.weight"]
    np.testing.assert_allclose(ops.convert_to_numpy(model.logits(hidden)), ref @ wte.T, atol=1e-4)
