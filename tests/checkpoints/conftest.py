"""Checkpoints in the exact original formats, written once per test session."""
import os

import pytest

from tests.fixtures import checkpoints as fx
from tests.helpers import shared_path


@pytest.fixture(scope="session")
def ckpt_root(tmp_path_factory):
    return tmp_path_factory.mktemp("original_checkpoints")


@pytest.fixture(scope="session")
def bert_tf1(ckpt_root):
    return fx.write_bert_tf1(os.path.join(ckpt_root, "uncased_L-2_H-32_A-4"), with_heads=True,
                             with_adam_slots=True, with_global_step=True)


@pytest.fixture(scope="session")
def model_garden_tf2(bert_tf1, ckpt_root):
    return fx.write_model_garden_tf2_from_tf1(bert_tf1.directory,
                                              os.path.join(ckpt_root, "model_garden_tf2"))


@pytest.fixture(scope="session")
def tfhub_bert(bert_tf1, model_garden_tf2, ckpt_root):
    return fx.write_tfhub_bert_from_tf1(bert_tf1.directory, os.path.join(ckpt_root, "tfhub", "4"),
                                        tf2_checkpoint=model_garden_tf2)


@pytest.fixture(scope="session")
def hf_bert(bert_tf1, ckpt_root):
    return fx.write_hf_bert(os.path.join(ckpt_root, "hf_bert"), weights_from_tf1=bert_tf1.weights)


@pytest.fixture(scope="session")
def gpt2_tf1(ckpt_root):
    shared_path("vocab", "gpt2", "encoder.json")  # the real GPT-2 BPE files
    return fx.write_gpt2_tf1(os.path.join(ckpt_root, "gpt2", "124M"), n_ctx=64, n_embd=32,
                             n_head=4, n_layer=2)


@pytest.fixture(scope="session")
def hf_gpt2(gpt2_tf1, ckpt_root):
    return fx.write_hf_gpt2(os.path.join(ckpt_root, "hf_gpt2"), weights_from_tf1=gpt2_tf1.weights)


@pytest.fixture(scope="session")
def hf_roberta(ckpt_root):
    shared_path("vocab", "roberta", "dict.txt")  # the real RoBERTa id order
    return fx.write_hf_roberta(os.path.join(ckpt_root, "hf_roberta"), hidden_size=32, num_layers=2,
                               num_heads=4, intermediate_size=64)
