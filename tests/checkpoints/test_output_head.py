"""`model.output_head=lm_head`: BERT's masked-LM head in front of the tied projection, taken
from the checkpoint's cls/predictions (RoBERTa's lm_head) where it has one, random otherwise,
and always in the report."""
import math

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.checkpoints import build_warm_started_model
from bert2bert.checkpoints.layout import HEAD_REASON
from bert2bert.checkpoints.warm_start import head_variables
from bert2bert.config import ConfigError, ModelConfig
from bert2bert.models import build_model, count_parameters
from bert2bert.models.seq2seq import causal_mask
from tests.fixtures import checkpoints as fx
from tests.helpers import random_inputs, tiny_config

pytestmark = pytest.mark.slow  # session checkpoint fixtures and warm-started models


def _rows(report):
    return {r.variable: r for r in report.model_variables}


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_head_comes_from_cls_predictions_and_gives_the_original_logits(bert_tf1):
    config = ModelConfig(variant="bert2bert", encoder_checkpoint=bert_tf1.directory,
                         decoder_checkpoint=bert_tf1.directory, output_head="lm_head",
                         dropout=0.0, attention_dropout=0.0)
    model, report = build_warm_started_model(config)
    w = bert_tf1.weights
    rows = _rows(report)
    for variable, _ in head_variables(model):
        assert rows[variable.path].source.split(":")[-1].startswith("cls/predictions/")
    np.testing.assert_array_equal(model.output_head.bias.numpy(), w["cls/predictions/output_bias"])
    # Logits = LayerNorm(gelu(h W + b)) E^T + bias, computed here from the TF1 arrays.
    inputs = random_inputs(model)
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    encoded = model.encode(tensors["encoder_token_ids"], tensors["encoder_padding_mask"])
    hidden = model.decoder(tensors["decoder_token_ids"], self_mask=causal_mask(7)[None],
                           encoder_output=encoded,
                           cross_mask=tf.cast(tensors["encoder_padding_mask"], bool)[:, None, :])
    h = hidden.numpy()
    t = _gelu_tanh(h @ w["cls/predictions/transform/dense/kernel"]
                   + w["cls/predictions/transform/dense/bias"])
    t = _layer_norm(t, w["cls/predictions/transform/LayerNorm/gamma"],
                    w["cls/predictions/transform/LayerNorm/beta"], 1e-12)
    expected = t @ w["bert/embeddings/word_embeddings"].T + w["cls/predictions/output_bias"]
    np.testing.assert_allclose(model(tensors).numpy(), expected, atol=2e-4, rtol=1e-4)


def test_tied_output_reports_the_checkpoint_head_as_unused(bert_tf1):
    tied = ModelConfig(variant="bert2bert", encoder_checkpoint=bert_tf1.directory,
                       decoder_checkpoint=bert_tf1.directory)
    model, report = build_warm_started_model(tied)
    assert model.output_head is None
    (rows,) = report.checkpoint_variables.values()  # one file for both sides
    rows = {r.name: r for r in rows}
    assert rows["cls/predictions/output_bias"].ignored == HEAD_REASON
    assert rows["cls/predictions/transform/dense/kernel"].used_by == []
    # The head adds exactly H*H + H + 2H + V parameters.
    headed, _ = build_warm_started_model(ModelConfig(
        variant="bert2bert", encoder_checkpoint=bert_tf1.directory,
        decoder_checkpoint=bert_tf1.directory, output_head="lm_head"))
    H, V = bert_tf1.config["hidden_size"], bert_tf1.config["vocab_size"]
    assert count_parameters(headed).total - count_parameters(model).total == H * H + H + 2 * H + V


def test_checkpoint_without_a_head_leaves_it_random_and_says_so(hf_bert):
    config = ModelConfig(variant="bert2bert", encoder_checkpoint=hf_bert.directory,
                         decoder_checkpoint=hf_bert.directory, output_head="lm_head")
    model, report = build_warm_started_model(config)
    rows = _rows(report)
    for variable, _ in head_variables(model):
        row = rows[variable.path]
        assert row.source is None and "has no masked-LM head" in row.random_reason
    assert "has no masked-LM head" in report.summary()
    np.testing.assert_array_equal(model.output_head.bias.numpy(), 0.0)  # BERT's init
    np.testing.assert_array_equal(model.output_head.layer_norm.gamma.numpy(), 1.0)


def test_roberta_lm_head_is_read_from_hugging_face(tmp_path):
    ckpt = fx.write_hf_roberta(str(tmp_path / "roberta_mlm"), hidden_size=32, num_layers=2,
                               num_heads=4, intermediate_size=64, vocab_size=300, masked_lm=True)
    model, report = build_warm_started_model(ModelConfig(
        variant="robertaShare", encoder_checkpoint=ckpt.directory, output_head="lm_head"))
    w = ckpt.weights
    np.testing.assert_array_equal(model.output_head.dense.kernel.numpy(),
                                  w["lm_head.dense.weight"].T)  # torch Linear is [out, in]
    np.testing.assert_array_equal(model.output_head.layer_norm.beta.numpy(),
                                  w["lm_head.layer_norm.bias"])
    np.testing.assert_array_equal(model.output_head.bias.numpy(), w["lm_head.bias"])
    assert not model.output_head.approximate_gelu  # RoBERTa's exact GELU, as its stack
    assert model.output_head.layer_norm.epsilon == 1e-5
    assert all(_rows(report)[v.path].source for v, _ in head_variables(model))


def test_incremental_decoding_equals_the_full_pass_with_the_head():
    model = build_model(tiny_config("bert2bert", output_head="lm_head"))
    model.output_head.bias.assign(np.random.default_rng(0).normal(size=97).astype("float32"))
    inputs = random_inputs(model)
    full = model({k: tf.constant(v) for k, v in inputs.items()}).numpy()
    state = model.start_decoding(inputs["encoder_token_ids"], inputs["encoder_padding_mask"], 7)
    for step in range(7):
        logits, state = model.decode_step(state, inputs["decoder_token_ids"][:, step], step)
        np.testing.assert_allclose(logits.numpy(), full[:, step], atol=1e-4, rtol=1e-4)


def test_gpt2_decoder_refuses_the_bert_head_in_one_line():
    with pytest.raises(ConfigError, match="output_head=lm_head.*GPT-2"):
        build_model(tiny_config("bert2gpt", output_head="lm_head"))
