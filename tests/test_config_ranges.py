"""Range checks of config values: every number has a range, checked when a config is loaded."""
import dataclasses
import types
import typing

import pytest

from bert2bert.config import (RANGES, Config, ConfigError, Range, config_from_dict, load_config,
                              position_table)


def numeric_keys(cls, prefix=""):
    """Every "section.key" of a config dataclass whose type is int or float (or Optional)."""
    for name, tp in typing.get_type_hints(cls).items():
        key = prefix + name
        args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) \
            else (tp,)
        if any(dataclasses.is_dataclass(a) for a in args):
            yield from numeric_keys(next(a for a in args if dataclasses.is_dataclass(a)),
                                    key + ".")
        elif any(a in (int, float) for a in args):
            yield key


def test_every_number_of_the_config_has_a_range():
    keys = set(numeric_keys(Config))
    assert keys - set(RANGES) == set(), "config numbers without a range in config.RANGES"
    assert set(RANGES) - keys == set(), "ranges of keys the config does not have"


@pytest.mark.parametrize("override, message", [
    ("model.num_layers=0", "'model.num_layers' is 0; valid range: >= 1"),
    ("model.encoder.hidden_size=-8", "'model.encoder.hidden_size' is -8; valid range: >= 1"),
    ("model.decoder.layer_norm_epsilon=0", "'model.decoder.layer_norm_epsilon' is 0.0; "
                                           "valid range: > 0"),
    ("model.dropout=-0.1", "'model.dropout' is -0.1; valid range: [0, 1)"),
    ("model.attention_dropout=1", "'model.attention_dropout' is 1.0; valid range: [0, 1)"),
    ("model.initializer_range=0", "'model.initializer_range' is 0.0; valid range: > 0"),
    ("task.max_target_length=0", "'task.max_target_length' is 0; valid range: >= 1"),
    ("optimizer.learning_rate=0", "'optimizer.learning_rate' is 0.0; valid range: > 0"),
    ("optimizer.learning_rate=.nan", "'optimizer.learning_rate' is nan"),
    ("optimizer.learning_rate=.inf", "'optimizer.learning_rate' is inf"),
    ("optimizer.beta_1=1", "'optimizer.beta_1' is 1.0; valid range: [0, 1)"),
    ("optimizer.beta_2=-0.5", "'optimizer.beta_2' is -0.5; valid range: [0, 1)"),
    ("optimizer.warmup_steps=-1", "'optimizer.warmup_steps' is -1; valid range: >= 0"),
    ("optimizer.clip_norm=0", "'optimizer.clip_norm' is 0.0; valid range: > 0"),
    ("train.batch_size=-4", "'train.batch_size' is -4; valid range: >= 1"),
    ("train.train_steps=-5", "'train.train_steps' is -5; valid range: >= 1"),
    ("train.label_smoothing=1.0", "'train.label_smoothing' is 1.0; valid range: [0, 1)"),
    ("train.checkpoint_every=0", "'train.checkpoint_every' is 0; valid range: >= 1"),
    ("train.log_every=0", "'train.log_every' is 0; valid range: >= 1"),
    ("train.keep_checkpoints=0", "'train.keep_checkpoints' is 0; valid range: >= 1"),
    ("train.gradient_accumulation_steps=0", "'train.gradient_accumulation_steps' is 0"),
    ("train.eval_every=0", "'train.eval_every' is 0; valid range: >= 1"),
    ("train.seed=-1", "'train.seed' is -1; valid range: >= 0"),
    ("decode.beam_size=0", "'decode.beam_size' is 0; valid range: >= 1"),
    ("decode.alpha=-1", "'decode.alpha' is -1.0; valid range: >= 0"),
    ("decode.max_length=0", "'decode.max_length' is 0; valid range: >= 1"),
])
def test_out_of_range_names_the_key_and_the_range(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("override", [
    "model.dropout=0", "train.label_smoothing=0.0", "optimizer.beta_1=0",
    "optimizer.warmup_steps=0", "train.shuffle_buffer=0", "decode.alpha=0", "train.eval_every=null",
    "optimizer.clip_norm=null", "train.train_steps=1", "decode.min_length=0", "model.dropout=0.99"])
def test_values_on_the_edge_of_the_range_are_fine(override):
    load_config(None, [override])


def test_the_config_file_is_named():
    with pytest.raises(ConfigError, match=r"config error in /x\.yaml: 'train\.batch_size' is 0"):
        config_from_dict({"train": {"batch_size": 0}}, where="/x.yaml")


def test_range_text():
    assert str(Range(1)) == ">= 1"
    assert str(Range(0, open_low=True)) == "> 0"
    assert str(Range(0, 1, open_high=True)) == "[0, 1)"
    assert 0 in Range(0, 1, open_high=True) and 1 not in Range(0, 1, open_high=True)
    assert 0 not in Range(0, open_low=True) and 1e-9 in Range(0, open_low=True)


def test_min_length_above_max_length():
    with pytest.raises(ConfigError, match="'decode.min_length' is 9; valid range: <= "
                                          "decode.max_length \\(5\\)"):
        load_config(None, ["decode.max_length=5", "decode.min_length=9"])
    load_config(None, ["decode.min_length=9"])  # no max_length: the task's decides


def test_lengths_must_fit_the_position_table_known_from_the_config():
    with pytest.raises(ConfigError, match="'task.max_source_length' is 600; valid range: <= 512, "
                                          "the encoder's position table"):
        load_config(None, ["task.max_source_length=600"])
    with pytest.raises(ConfigError, match="'task.max_target_length' is 128; valid range: <= 64"):
        load_config(None, ["model.decoder.max_position_embeddings=64",
                           "task.max_source_length=64"])
    with pytest.raises(ConfigError, match="'decode.max_length' is 100; valid range: <= 64"):
        load_config(None, ["model.max_position_embeddings=64", "task.max_source_length=64",
                           "task.max_target_length=64", "decode.max_length=100"])
    # RoBERTa's table holds 2 offset rows; GPT-2 reads the source and the target as one sequence
    with pytest.raises(ConfigError, match="valid range: <= 512"):
        load_config(None, ["model.variant=robertaShare", "task.max_source_length=513"])
    with pytest.raises(ConfigError, match="'task.max_source_length \\+ task.max_target_length' "
                                          "is 1100; valid range: <= 1024"):
        load_config(None, ["model.variant=gpt", "task.max_source_length=600",
                           "task.max_target_length=500"])
    # from a checkpoint, the table is known only once the checkpoint is read
    cfg = load_config(None, ["model.encoder_checkpoint=/ckpt", "task.max_source_length=600"])
    assert position_table(cfg.model, "encoder") is None
    assert position_table(cfg.model, "decoder") is None
    cfg = load_config(None, ["model.encoder_checkpoint=/ckpt",
                             "model.encoder.max_position_embeddings=700",
                             "task.max_source_length=600"])
    assert position_table(cfg.model, "encoder") == 700
    assert position_table(load_config(None, ["model.variant=gpt"]).model, "encoder") is None
