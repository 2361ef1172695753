"""Bad checkpoints give clear one-line errors naming the file, variable and shapes."""
import json
import os
import shutil

import pytest

from bert2bert.checkpoints import CheckpointError, build_warm_started_model, open_checkpoint
from bert2bert.cli import main
from bert2bert.config import ModelConfig
from tests.helpers import one_line_error


def copy(src, dst):
    shutil.copytree(src, dst)
    return str(dst)


def load_bert2bert(path):
    return build_warm_started_model(ModelConfig(variant="bert2bert", encoder_checkpoint=path,
                                                decoder_checkpoint=path))


def test_missing_data_file(bert_tf1, tmp_path):
    d = copy(bert_tf1.directory, tmp_path / "uncased")
    os.remove(os.path.join(d, "bert_model.ckpt.data-00000-of-00001"))
    one_line_error(lambda: open_checkpoint(d), "bert_model.ckpt.data-00000-of-00001",
                   "missing checkpoint data file")


def test_missing_config_file(bert_tf1, tmp_path):
    d = copy(bert_tf1.directory, tmp_path / "uncased")
    os.remove(os.path.join(d, "bert_config.json"))
    one_line_error(lambda: open_checkpoint(os.path.join(d, "bert_model.ckpt"), format="bert_tf1"),
                   "bert_config.json", "missing")


def test_truncated_data_file(bert_tf1, tmp_path):
    d = copy(bert_tf1.directory, tmp_path / "uncased")
    data = os.path.join(d, "bert_model.ckpt.data-00000-of-00001")
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 3)
    one_line_error(lambda: load_bert2bert(d), "bert_model.ckpt", "cannot read variable")


def test_truncated_safetensors(hf_bert, tmp_path):
    d = copy(hf_bert.directory, tmp_path / "hf")
    path = os.path.join(d, "model.safetensors")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    one_line_error(lambda: open_checkpoint(d), "model.safetensors")


def test_gpt2_where_bert_is_expected(gpt2_tf1):
    one_line_error(lambda: load_bert2bert(gpt2_tf1.directory), gpt2_tf1.directory,
                   "is a gpt2 checkpoint", "encoder of bert2bert is a bert stack")
    one_line_error(lambda: open_checkpoint(gpt2_tf1.directory, format="bert_tf1"),
                   "bert_config.json", "missing")


def test_shape_mismatch_names_file_variable_and_shapes(bert_tf1, tmp_path):
    d = copy(bert_tf1.directory, tmp_path / "uncased")
    config_path = os.path.join(d, "bert_config.json")
    config = json.load(open(config_path))
    config["intermediate_size"] = 48  # the variables say 64
    json.dump(config, open(config_path, "w"))
    one_line_error(lambda: load_bert2bert(d), "intermediate/dense/kernel", "[32, 64]", "[32, 48]")


def test_explicit_size_that_does_not_fit(bert_tf1):
    cfg = ModelConfig(variant="bertShare", encoder_checkpoint=bert_tf1.directory,
                      hidden_size=64, num_heads=4)
    one_line_error(lambda: build_warm_started_model(cfg), "word_embeddings", "needs")


def test_empty_directory_and_missing_path(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(lambda: open_checkpoint(str(empty)), "empty directory")
    one_line_error(lambda: open_checkpoint(str(tmp_path / "nope")), "no such file or directory")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "readme.txt").write_text("hello")
    one_line_error(lambda: open_checkpoint(str(tmp_path / "junk")), "not a checkpoint format")


def test_warm_side_without_checkpoint_and_checkpoint_on_random_side(bert_tf1):
    one_line_error(lambda: build_warm_started_model(ModelConfig(variant="bert2bert",
                                                                encoder_checkpoint=bert_tf1.directory)),
                   "the decoder is warm-started", "model.decoder_checkpoint")
    one_line_error(lambda: build_warm_started_model(ModelConfig(
        variant="bert2rnd", encoder_checkpoint=bert_tf1.directory,
        decoder_checkpoint=bert_tf1.directory)), "random by definition")


def test_bert_checkpoint_forced_as_gpt2(bert_tf1, tmp_path):
    d = copy(bert_tf1.directory, tmp_path / "b")
    json.dump({"n_vocab": 99, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_ctx": 64},
              open(os.path.join(d, "hparams.json"), "w"))
    one_line_error(lambda: open_checkpoint(d, format="gpt2_tf1"), "no variable 'model/wte'",
                   "looks like a BERT")


def test_pytorch_only_directory(hf_bert, tmp_path):
    d = copy(hf_bert.directory, tmp_path / "pt")
    os.rename(os.path.join(d, "model.safetensors"), os.path.join(d, "pytorch_model.bin"))
    one_line_error(lambda: open_checkpoint(d), "pytorch_model.bin", "without PyTorch")


def test_inspect_command(bert_tf1, capsys, tmp_path):
    assert main(["inspect", bert_tf1.directory, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "bert_tf1" and info["config"]["num_layers"] == 2
    assert info["vocabulary"]["lowercase"] is True
    assert info["parameters"] > 0
    assert main(["inspect", str(tmp_path)]) == 2
    assert "checkpoint error" in capsys.readouterr().err
