"""Warm start of every variant from original-format checkpoints, and its report."""
import numpy as np
import pytest
from keras import ops

from bert2bert import grid
from bert2bert.checkpoints import build_warm_started_model, open_checkpoint
from bert2bert.checkpoints.warm_start import CROSS_ATTENTION_REASON, stack_variables
from bert2bert.config import ModelConfig
from bert2bert.models import count_parameters
from tests.helpers import random_inputs

SOURCES = {"bert": "bert_tf1", "roberta": "hf_roberta", "gpt2": "gpt2_tf1"}


def checkpoint_for(request, family):
    fixture = request.getfixturevalue(SOURCES[family])
    return fixture.directory


def config_for(request, variant, **kw):
    v = grid.VARIANTS[variant]
    values = dict(variant=variant, dropout=0.0, attention_dropout=0.0)
    if v.encoder_warm:
        values["encoder_checkpoint"] = checkpoint_for(request, v.encoder_family)
    if v.decoder_warm and v.share != "all":
        values["decoder_checkpoint"] = checkpoint_for(request, v.decoder_family)
    values.update(kw)
    return ModelConfig(**values)


@pytest.mark.parametrize("variant", [  # bert2bert in `make test-fast`, all in `make test`
    v if v == "bert2bert" else pytest.param(v, marks=pytest.mark.slow) for v in grid.VARIANT_NAMES])
def test_every_variant_warm_starts(request, variant):
    model, report = build_warm_started_model(config_for(request, variant))
    v = grid.VARIANTS[variant]
    rows = {r.variable: r for r in report.model_variables}
    assert set(rows) == {w.path for w in model.weights}
    cross = {w.path for w in model.decoder.cross_attention_weights()}
    for side, warm in (("encoder", v.encoder_warm), ("decoder", v.decoder_warm)):
        stack = getattr(model, side)
        if stack is None:
            continue
        for variable, canonical in stack_variables(stack):
            row = rows[variable.path]
            if warm:
                assert row.source, f"{variable.path} should come from the checkpoint"
            elif row.source is None:
                assert "random" in row.random_reason
    for path in cross:
        assert rows[path].source is None and rows[path].random_reason == CROSS_ATTENTION_REASON
    # The loaded part is exactly the warm-startable count of Table 1.
    counts = count_parameters(model)
    assert report.counts()["loaded_parameters"] == counts.from_checkpoint
    out = ops.convert_to_numpy(model(random_inputs(model)))
    assert np.isfinite(out).all()


def test_bert2bert_random_is_exactly_cross_attention(request):
    model, report = build_warm_started_model(config_for(request, "bert2bert"))
    random_paths = {r.variable for r in report.model_variables if not r.source}
    assert random_paths == {w.path for w in model.decoder.cross_attention_weights()}


@pytest.mark.slow
def test_model_shape_comes_from_the_checkpoints(request, bert_tf1, gpt2_tf1):
    model, _ = build_warm_started_model(config_for(request, "bert2gpt"))
    assert model.spec.encoder.hidden_size == 32 and model.spec.encoder.num_layers == 2
    assert model.spec.encoder.vocab_size == bert_tf1.config["vocab_size"]
    assert model.spec.decoder.vocab_size == gpt2_tf1.config["n_vocab"]
    assert model.spec.decoder.max_position_embeddings == 64
    # A random side takes the other side's size (rnd2gpt: GPT-2's shape and vocabulary).
    rnd, _ = build_warm_started_model(config_for(request, "rnd2gpt"))
    assert rnd.spec.encoder.hidden_size == 32 and rnd.spec.encoder.vocab_size == gpt2_tf1.config["n_vocab"]


def test_longer_position_table_is_sliced_and_reported(request, bert_tf1):
    model, report = build_warm_started_model(config_for(request, "bertShare",
                                                        max_position_embeddings=16))
    table = ops.convert_to_numpy(model.encoder.embeddings.position_embeddings.embeddings)
    np.testing.assert_array_equal(table, bert_tf1.weights["bert/embeddings/position_embeddings"][:16])
    row = next(r for r in report.model_variables if r.variable.endswith("position_embeddings/embeddings"))
    assert "rows 0..15 of 64" in row.transform
    assert "sliced: 1 variables (rows 0..15 of 64" in report.summary()


@pytest.mark.slow
def test_encoder_and_decoder_from_different_formats(request, tfhub_bert, bert_tf1):
    cfg = ModelConfig(variant="bert2bert", encoder_checkpoint=tfhub_bert,
                      decoder_checkpoint=bert_tf1.directory)
    model, report = build_warm_started_model(cfg)
    assert report.checkpoints["encoder"]["format"] == "tfhub_bert"
    assert report.checkpoints["decoder"]["format"] == "bert_tf1"
    # The shared word embeddings came from the encoder's checkpoint; the decoder's copy is
    # reported as not used, with the reason.
    rows = report.checkpoint_variables[open_checkpoint(bert_tf1.directory).weights_file]
    word = next(r for r in rows if r.name == "bert/embeddings/word_embeddings")
    assert "already loaded from" in word.ignored


def test_bertshare_has_one_checkpoint_and_one_copy(request):
    model, report = build_warm_started_model(config_for(request, "bertShare"))
    assert report.checkpoints["decoder"] == report.checkpoints["encoder"]
    assert len(report.checkpoint_variables) == 1
    assert model.decoder.blocks[1].feed_forward is model.encoder.blocks[1].feed_forward
    assert len(report.model_variables) == len(model.weights)


@pytest.mark.slow
def test_cross_attention_can_start_from_self_attention(request):
    model, report = build_warm_started_model(
        config_for(request, "bert2bert", cross_attention_init="self_attention"))
    rows = {r.variable: r for r in report.model_variables}
    for block in model.decoder.blocks:
        for cross, own in ((block.cross_attention, block.self_attention),
                           (block.cross_attention_norm, block.self_attention_norm)):
            for c, s in zip(cross.weights, own.weights):
                np.testing.assert_array_equal(ops.convert_to_numpy(c), ops.convert_to_numpy(s))
                assert rows[c.path].source == f"copy of {s.path}"
                assert "self-attention" in rows[c.path].transform
    assert report.counts()["random_parameters"] == 0
    with pytest.raises(ValueError, match="warm-started decoder"):
        build_warm_started_model(config_for(request, "bert2rnd",
                                            cross_attention_init="self_attention"))
