"""One architecture spec: every field flows config -> ModelSpec -> layers; parameter counts by
arithmetic equal the built models; every variant round-trips through keras.saving."""
import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert2bert import grid
from bert2bert.config import RANGES, StackOverrides
from bert2bert.decoding import DecodingState
from bert2bert.models import (EncoderDecoderLM, PrefixLM, TransformerStack, build_model,
                              count_parameters)
from bert2bert.models.encoder_decoder import SourceConstants
from bert2bert.models.prefix_lm import PrefixConstants
from bert2bert.parameters import parameters_from_spec
from bert2bert.resolve import model_spec
from bert2bert.spec import ArchSpec, ModelSpec, overridable_fields
from tests.helpers import random_inputs, tiny_config, tiny_model

HEADS = [(v, "tied") for v in grid.VARIANT_NAMES] + [
    (v, "lm_head") for v, spec in grid.VARIANTS.items() if spec.decoder_family != "gpt2"]


def _stack_values(stack: TransformerStack) -> dict:
    """Every ArchSpec field as the built layers hold it."""
    block, emb = stack.blocks[0], stack.embeddings
    attention = block.self_attention
    return {
        "vocab_size": emb.word_embeddings.embeddings.shape[0],
        "num_layers": len(stack.blocks),
        "hidden_size": emb.word_embeddings.embeddings.shape[1],
        "num_heads": attention.num_heads,
        "intermediate_size": block.feed_forward.intermediate_dense.kernel.shape[1],
        "max_position_embeddings": emb.position_embeddings.embeddings.shape[0],
        "type_vocab_size": (0 if emb.token_type_embeddings is None
                            else emb.token_type_embeddings.embeddings.shape[0]),
        "position_offset": emb.position_offset,
        "layer_norm_epsilon": block.self_attention_norm.epsilon,
        "approximate_gelu": block.feed_forward.approximate_gelu,
        "norm_first": block.norm_first,
        "embedding_layer_norm": emb.layer_norm is not None,
        "final_layer_norm": stack.final_norm is not None,
        "dropout": block.dropout.rate,
        "attention_dropout": attention.dropout.rate,
        "initializer_range": block.feed_forward.intermediate_dense.kernel_initializer.stddev,
    }


def test_config_overrides_are_exactly_the_overridable_spec_fields():
    """A new ArchSpec field is configurable per side, range-checked, without other edits."""
    names = [f.name for f in overridable_fields()]
    assert [f.name for f in dataclasses.fields(StackOverrides)] == names
    for f in overridable_fields():
        assert f.metadata["doc"], f.name
        if f.metadata["valid"] is not None:
            assert RANGES[f"model.decoder.{f.name}"] is f.metadata["valid"]


@pytest.mark.slow
@pytest.mark.parametrize("family", list(grid.FAMILIES))
def test_every_spec_field_reaches_the_layers(family):
    """Change every field of a family's spec with dataclasses.replace: the layers follow."""
    base = grid.FAMILIES[family]
    changed = dataclasses.replace(
        base, vocab_size=53, num_layers=3, hidden_size=24, num_heads=3, intermediate_size=40,
        max_position_embeddings=21, type_vocab_size=3, position_offset=1,
        layer_norm_epsilon=3e-4, approximate_gelu=not base.approximate_gelu,
        norm_first=not base.norm_first, embedding_layer_norm=not base.embedding_layer_norm,
        final_layer_norm=not base.final_layer_norm, dropout=0.25, attention_dropout=0.125,
        initializer_range=0.5)
    stack = TransformerStack(changed)
    stack.build((None, None))
    held = _stack_values(stack)
    expected = {f.name: getattr(changed, f.name) for f in dataclasses.fields(ArchSpec)
                if f.name not in ("family", "vocab")}
    assert held == expected


def test_a_side_override_reaches_the_spec_and_wins_over_model_wide_values():
    config = tiny_config("bert2gpt", dropout=0.2,
                         decoder=StackOverrides(vocab_size=113, dropout=0.3,
                                                layer_norm_epsilon=1e-3))
    spec = model_spec(config)
    assert (spec.encoder.dropout, spec.decoder.dropout) == (0.2, 0.3)
    assert spec.decoder.layer_norm_epsilon == 1e-3 and spec.encoder.layer_norm_epsilon == 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("variant,head", HEADS)
def test_parameter_arithmetic_equals_the_built_model(variant, head):
    model = tiny_model(variant, output_head=head)
    assert parameters_from_spec(model.spec) == count_parameters(model)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(grid.VARIANT_NAMES))
def test_decoder_only_is_one_fact(variant):
    model = tiny_model(variant)
    expected = grid.VARIANTS[variant].decoder_only
    assert model.spec.decoder_only is expected
    assert isinstance(model, PrefixLM if expected else EncoderDecoderLM)
    inputs = random_inputs(model)
    state = model.start_decoding(inputs["encoder_token_ids"], inputs["encoder_padding_mask"], 4)
    assert isinstance(state, DecodingState)
    assert isinstance(state.constants, PrefixConstants if expected else SourceConstants)
    assert len(state.cache) == model.spec.decoder.num_layers


@pytest.mark.slow
@pytest.mark.parametrize("variant,head", [(v, "tied") for v in grid.VARIANT_NAMES]
                         + [("bert2bert", "lm_head")])
def test_keras_saving_round_trips_every_variant(tmp_path, variant, head):
    model = tiny_model(variant, output_head=head)
    inputs = {k: tf.constant(v) for k, v in random_inputs(model).items()}
    expected = model(inputs).numpy()
    path = os.path.join(tmp_path, f"{variant}.keras")
    keras.saving.save_model(model, path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model) and restored.spec == model.spec
    assert len(restored.weights) == len(model.weights)  # shared variables stay shared
    np.testing.assert_allclose(restored(inputs).numpy(), expected, atol=1e-6, rtol=0)


def test_model_spec_round_trips_through_a_dict():
    spec = tiny_model("bert2gpt").spec
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_large_is_resolved_from_the_grid_without_building():
    spec = model_spec(tiny_config("bert2bert", size="large", num_layers=None, hidden_size=None,
                                  num_heads=None, intermediate_size=None,
                                  encoder=StackOverrides(), decoder=StackOverrides()))
    counts = parameters_from_spec(spec)
    assert (spec.encoder.num_layers, spec.encoder.hidden_size) == (24, 1024)
    assert 0.98 < counts.total / 737.7e6 < 1.02  # bert2bert large, as `variants --size large`
