"""Every reader on its original format: detection, architecture, names, and the same numbers."""
import os

import numpy as np
import pytest

from bert2bert.checkpoints import READERS, open_checkpoint
from bert2bert.checkpoints.layout import EMBEDDINGS, HEAD, LAYER


def expected_canonical(num_layers, embeddings=EMBEDDINGS, final=()):
    return set(embeddings) | {f"layer_{i}/{n}" for i in range(num_layers) for n in LAYER} | set(final)


def test_bert_tf1_without_state_file(bert_tf1):
    assert not os.path.exists(os.path.join(bert_tf1.directory, "checkpoint"))
    for path in (bert_tf1.directory, bert_tf1.prefix, bert_tf1.prefix + ".index"):
        reader = open_checkpoint(path)
        assert reader.format_name == "bert_tf1" and reader.family == "bert"
    c = reader.config
    assert (c.vocab_size, c.hidden_size, c.num_layers, c.num_heads, c.intermediate_size,
            c.max_position_embeddings, c.type_vocab_size) == (
        bert_tf1.config["vocab_size"], 32, 2, 4, 64, 64, 2)
    assert c.approximate_gelu and c.layer_norm_epsilon == 1e-12
    assert reader.lowercase is True  # "uncased" in the directory name
    assert set(reader.canonical()) == expected_canonical(2) | set(HEAD)  # cls/predictions


def test_bert_tf1_ignores_heads_slots_and_step_with_reasons(bert_tf1):
    ignored = open_checkpoint(bert_tf1.directory).ignored()
    assert ignored["global_step"] == "training step counter"
    assert "cls/predictions/output_bias" not in ignored  # the head: model.output_head=lm_head
    assert ignored["cls/seq_relationship/output_weights"].startswith("next-sentence head")
    assert ignored["bert/pooler/dense/kernel"].startswith("pooler")
    slots = [n for n in ignored if n.endswith(("adam_m", "adam_v"))]
    assert slots and all(ignored[n] == "optimizer slot" for n in slots)
    assert not [n for n, r in ignored.items() if r.startswith("not part")]


# tfhub_bert and model_garden_tf2 come from tf-models-official (a subprocess per session).
TF_MODELS = pytest.mark.slow


@pytest.mark.parametrize("fixture_name,fmt", [
    pytest.param("tfhub_bert", "tfhub_bert", marks=TF_MODELS),
    pytest.param("model_garden_tf2", "model_garden_tf2", marks=TF_MODELS), ("hf_bert", "hf")])
def test_every_bert_format_gives_the_same_tensors(request, bert_tf1, fixture_name, fmt):
    fixture = request.getfixturevalue(fixture_name)
    path = fixture if isinstance(fixture, str) else fixture.directory
    reader = open_checkpoint(path)
    assert reader.format_name == fmt and reader.family == "bert"
    reference = open_checkpoint(bert_tf1.directory)
    # These fixtures are encoder-only (like MiniLM): no masked-LM head, unlike the TF1 one.
    assert set(reader.canonical()) == set(reference.canonical()) - set(HEAD)
    assert reader.config.num_layers == 2 and reader.config.hidden_size == 32
    for name in reader.canonical():
        np.testing.assert_array_equal(reader.tensor(name), reference.tensor(name), err_msg=name)


@pytest.mark.slow
def test_tfhub_vocabulary_and_casing_come_along(tfhub_bert):
    reader = open_checkpoint(tfhub_bert)
    assert reader.vocab_files["vocab_txt"].endswith(os.path.join("assets", "vocab.txt"))
    assert reader.lowercase is True


def test_gpt2_tf1_and_hf_give_the_same_tensors(gpt2_tf1, hf_gpt2):
    tf1 = open_checkpoint(gpt2_tf1.directory)
    hf = open_checkpoint(hf_gpt2.directory)
    assert (tf1.format_name, hf.format_name) == ("gpt2_tf1", "hf")
    assert tf1.family == hf.family == "gpt2"
    assert tf1.config == hf.config
    assert set(tf1.canonical()) == expected_canonical(2, EMBEDDINGS[:2], ("final_norm/gamma",
                                                                          "final_norm/beta"))
    assert set(hf.canonical()) == set(tf1.canonical())
    for name in tf1.canonical():
        np.testing.assert_array_equal(hf.tensor(name), tf1.tensor(name), err_msg=name)
    # c_attn is split into q, k, v in that order.
    w = gpt2_tf1.weights["model/h0/attn/c_attn/w"][0]
    E = w.shape[0]
    np.testing.assert_array_equal(tf1.tensor("layer_0/self_attention/key/kernel"),
                                  w[:, E:2 * E].reshape(E, 4, E // 4))
    assert set(tf1.vocab_files) == {"encoder_json", "vocab_bpe"}


def test_hf_roberta(hf_roberta):
    reader = open_checkpoint(hf_roberta.directory)
    assert reader.family == "roberta" and reader.format_name == "hf"
    assert reader.config.max_position_embeddings == hf_roberta.config["max_position_embeddings"]
    assert reader.config.type_vocab_size == 1 and reader.config.approximate_gelu is False
    assert reader.config.layer_norm_epsilon == 1e-5
    assert {"vocab_json", "merges_txt"} <= set(reader.vocab_files)


def test_explicit_format_override(bert_tf1):
    assert open_checkpoint(bert_tf1.directory, format="bert_tf1").format_name == "bert_tf1"
    assert set(READERS) == {"bert_tf1", "tfhub_bert", "model_garden_tf2", "gpt2_tf1", "hf",
                            "hf_encoder_decoder", "keras_hub", "bertseq2seq_hub"}


@pytest.mark.parametrize("fixture_name,family,start", [
    ("bert_tf1", "bert", "[CLS]"), pytest.param("tfhub_bert", "bert", "[CLS]", marks=TF_MODELS),
    ("hf_bert", "bert", "[CLS]"),
    pytest.param("gpt2_tf1", "gpt2", "<|endoftext|>", marks=pytest.mark.slow),
    pytest.param("hf_gpt2", "gpt2", "<|endoftext|>", marks=pytest.mark.slow),
    pytest.param("hf_roberta", "roberta", "<s>", marks=pytest.mark.slow)])
def test_the_vocabulary_comes_with_the_checkpoint(request, fixture_name, family, start):
    fixture = request.getfixturevalue(fixture_name)
    reader = open_checkpoint(fixture if isinstance(fixture, str) else fixture.directory)
    tok = reader.tokenizer()
    assert tok.family == family
    assert tok.vocab_size == reader.config.vocab_size
    assert tok.special_tokens.start_token == start
    ids = tok.tokenize(["hello world"])
    assert ids.shape[0] == 1 and int(ids.row_lengths()[0]) > 0
    assert int(ids.flat_values.numpy().max()) < reader.config.vocab_size
