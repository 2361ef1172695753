"""KerasHub presets (`keras_hub` reader), written by keras_hub itself: detection, architecture,
numerical parity with keras_hub's backbones, the warm-start report, the vocabulary and errors."""
import dataclasses
import json
import os
import shutil

import h5py
import numpy as np
import pytest
from keras import ops

from bert2bert.checkpoints import CheckpointError, build_warm_started_model, open_checkpoint
from bert2bert.checkpoints.hf import HuggingFaceReader
from bert2bert.checkpoints.keras_hub import KerasHubPresetReader
from bert2bert.cli import main
from bert2bert.config import ModelConfig
from bert2bert.models.seq2seq import causal_mask
from tests.fixtures.keras_hub_ref import keras_hub_outputs
from tests.fixtures.pytest_plugin import encoder_inputs
from tests.fixtures.vocab import bert_vocab_tokens, synthetic_gpt2_vocab, synthetic_roberta_vocab
from tests.helpers import one_line_error

# The presets fixture imports keras_hub (~2 s) and the models take ~1 s: slow by pytest.ini's rule.
pytestmark = pytest.mark.slow

SHAPE = dict(num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, max_sequence_length=24)
VOCAB = {"bert": 100, "roberta": 300, "gpt2": 300}  # byte-level BPE needs >= 257 entries
SENTENCE = "The quick brown fox can't jump over 2 lazy dogs!"


@dataclasses.dataclass
class Preset:
    path: str
    backbone: object
    tokenizer: object


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """{family: Preset} saved with `save_to_preset` by keras_hub's BertBackbone, RobertaBackbone
    and GPT2Backbone (2 layers, 16 wide, 2 heads, 24 positions) and their tokenizers; every
    weight random (LayerNorm gammas around 1) so that a misplaced tensor shows."""
    import keras_hub

    root = tmp_path_factory.mktemp("keras_hub_presets")
    rng = np.random.default_rng(0)
    roberta_vocab, roberta_merges = synthetic_roberta_vocab(VOCAB["roberta"])
    gpt2_vocab, gpt2_merges = synthetic_gpt2_vocab(VOCAB["gpt2"])
    models = {
        "bert": (keras_hub.models.BertBackbone, keras_hub.models.BertTokenizer(
            vocabulary=bert_vocab_tokens(VOCAB["bert"]), lowercase=True)),
        "roberta": (keras_hub.models.RobertaBackbone, keras_hub.models.RobertaTokenizer(
            vocabulary=roberta_vocab, merges=[f"{a} {b}" for a, b in roberta_merges])),
        "gpt2": (keras_hub.models.GPT2Backbone, keras_hub.models.GPT2Tokenizer(
            vocabulary=gpt2_vocab, merges=[f"{a} {b}" for a, b in gpt2_merges])),
    }
    out = {}
    for family, (backbone_cls, tokenizer) in models.items():
        backbone = backbone_cls(vocabulary_size=VOCAB[family], dropout=0.0, **SHAPE)
        for w in backbone.weights:
            w.assign(rng.normal(1.0 if w.path.endswith("gamma") else 0.0, 0.2, w.shape))
        path = str(root / family)
        backbone.save_to_preset(path)
        tokenizer.save_to_preset(path)
        out[family] = Preset(path, backbone, tokenizer)
    return out


@pytest.fixture(scope="module")
def models(presets):
    """Warm-started models: bert2bert (BERT preset on both sides), roberta2gpt and gpt."""
    def build(variant, encoder=None, decoder=None):
        return build_warm_started_model(ModelConfig(
            variant=variant, dropout=0.0, attention_dropout=0.0,
            encoder_checkpoint=encoder and presets[encoder].path,
            decoder_checkpoint=decoder and presets[decoder].path))
    return {"bert2bert": build("bert2bert", "bert", "bert"),
            "roberta2gpt": build("roberta2gpt", "roberta", "gpt2"),
            "gpt": build("gpt", decoder="gpt2")}


# --- detection and architecture ------------------------------------------------------------

def test_each_preset_is_detected_with_its_architecture(presets):
    expected = {  # family: (type_vocab_size, positions, epsilon, tanh GELU, position_offset)
        "bert": (2, 24, 1e-12, True, 0),
        "roberta": (0, 24 + 2, 1e-5, False, 2),  # two zero rows in front, read from row 2
        "gpt2": (0, 24, 1e-5, True, 0),
    }
    for family, preset in presets.items():
        reader = open_checkpoint(preset.path)
        assert (reader.format_name, reader.family) == ("keras_hub", family)
        c = reader.config
        assert (c.vocab_size, c.num_layers, c.hidden_size, c.num_heads, c.intermediate_size) == (
            VOCAB[family], 2, 16, 2, 32)
        assert (c.type_vocab_size, c.max_position_embeddings, c.layer_norm_epsilon,
                c.approximate_gelu, c.position_offset) == expected[family]
        assert (c.norm_first, c.final_layer_norm) == ((True, True) if family == "gpt2"
                                                      else (False, False))
        assert reader.weights_file == os.path.join(preset.path, "model.weights.h5")


def test_hugging_face_directories_are_not_claimed(tmp_path):
    d = tmp_path / "hf"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 16}))
    (d / "model.safetensors").write_bytes(b"")
    assert not KerasHubPresetReader.detect(str(d))
    assert HuggingFaceReader.detect(str(d))


def test_tensors_are_keras_hubs_variables(presets):
    reader = open_checkpoint(presets["roberta"].path)
    weights = {w.path: np.asarray(w) for w in presets["roberta"].backbone.weights}
    np.testing.assert_array_equal(reader.tensor("layer_1/self_attention/query/kernel"),
                                  weights["transformer_layer_1/self_attention_layer/query/kernel"])
    position = reader.tensor("embeddings/position")
    np.testing.assert_array_equal(position[2:], weights["embeddings/position_embedding/embeddings"])
    assert not position[:2].any()


def test_bfloat16_preset_is_read_as_float32(tmp_path):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(vocabulary_size=20, dtype="bfloat16", **SHAPE)
    backbone.save_to_preset(str(tmp_path / "bf16"))
    reader = open_checkpoint(str(tmp_path / "bf16"))
    word = reader.tensor("embeddings/word")
    assert word.dtype == np.float32 and word.any()
    np.testing.assert_array_equal(word, np.asarray(backbone.token_embedding.embeddings, "float32"))


# --- parity with keras_hub's backbones -----------------------------------------------------

def test_bert_encoder_equals_keras_hub(presets, models):
    model, _ = models["bert2bert"]
    ids, mask = encoder_inputs(VOCAB["bert"])
    ours = ops.convert_to_numpy(model.encode(ids, mask))
    ref = keras_hub_outputs("bert", presets["bert"].backbone, ids, mask)["sequence_output"]
    real = mask.astype(bool)
    np.testing.assert_allclose(ours[real], ref[real], atol=1e-5, rtol=0)
    assert np.abs(ref).max() > 0.1


def test_roberta_encoder_equals_keras_hub_up_to_its_last_position(presets, models):
    model, _ = models["roberta2gpt"]
    ids, mask = encoder_inputs(VOCAB["roberta"])
    full = np.random.default_rng(2).integers(5, VOCAB["roberta"], (1, 24)).astype("int32")
    for ids, mask in ((ids, mask), (full, np.ones_like(full))):  # all 24 positions
        ours = ops.convert_to_numpy(model.encode(ids, mask))
        ref = keras_hub_outputs("roberta", presets["roberta"].backbone, ids, mask)
        real = mask.astype(bool)
        np.testing.assert_allclose(ours[real], ref[real], atol=1e-5, rtol=0)


def test_gpt2_decoder_run_causally_equals_keras_hub(presets, models):
    model, _ = models["gpt"]
    ids = np.random.default_rng(1).integers(0, VOCAB["gpt2"], (2, 24)).astype("int32")
    hidden = ops.convert_to_numpy(model.decoder(ids, self_mask=causal_mask(24)[None]))
    ref = keras_hub_outputs("gpt2", presets["gpt2"].backbone, ids)
    np.testing.assert_allclose(hidden, ref, atol=1e-5, rtol=0)


# --- the warm-start report -----------------------------------------------------------------

def test_report_accounts_for_every_preset_variable(presets, models):
    for variant in ("bert2bert", "roberta2gpt"):
        _, report = models[variant]
        for weights_file, rows in report.checkpoint_variables.items():
            with h5py.File(weights_file, "r") as f:
                stored = set()
                f.visititems(lambda n, o: stored.add(n) if isinstance(o, h5py.Dataset) else None)
            assert {r.name for r in rows} == stored
            unused = {r.name: r.ignored for r in rows if not r.used_by}
            assert all(unused.values()), unused
            if weights_file.startswith(presets["bert"].path):  # only the pooler is left out
                assert set(unused) == {"layers/dense/vars/0", "layers/dense/vars/1"}
                assert all(r.startswith("pooler") for r in unused.values())
            else:
                assert not unused
    _, report = models["roberta2gpt"]
    rows = {r.variable: r for r in report.model_variables}
    position = [r for r in rows.values() if r.side == "encoder"
                and r.source and r.source.endswith("position_embedding/vars/0")]
    assert len(position) == 1 and position[0].transform.startswith("2 zero padding positions")
    assert "sliced" not in report.summary()  # nothing was cut


# --- the vocabulary ------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["bert", "roberta", "gpt2"])
def test_tokenizer_from_the_assets_matches_keras_hub(presets, family):
    import keras_hub

    reader = open_checkpoint(presets[family].path)
    assert reader.lowercase is (True if family == "bert" else None)
    tok = reader.tokenizer()
    assert tok.vocab_size == VOCAB[family]
    ours = tok.tokenize([SENTENCE]).to_list()[0]
    ref = keras_hub.models.Tokenizer.from_preset(presets[family].path)(SENTENCE)
    assert ours == ops.convert_to_numpy(ref).tolist()
    assert len(set(ours)) > 5


def test_inspect_recognises_a_preset(presets, capsys):
    assert main(["inspect", presets["gpt2"].path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "keras_hub" and info["family"] == "gpt2"
    assert info["parameters"] == presets["gpt2"].backbone.count_params()
    assert info["vocabulary"]["special_tokens"]["end_id"] == VOCAB["gpt2"] - 1


# --- strict errors -------------------------------------------------------------------------

def test_unsupported_backbone(tmp_path):
    import keras_hub

    path = str(tmp_path / "distil")
    keras_hub.models.DistilBertBackbone(vocabulary_size=20, num_layers=1, num_heads=2,
                                        hidden_dim=8, intermediate_dim=16).save_to_preset(path)
    one_line_error(lambda: open_checkpoint(path),
                   f"{path}/config.json: keras_hub backbone DistilBertBackbone is not supported; "
                   "expected BertBackbone, RobertaBackbone or GPT2Backbone")


def test_missing_weights_file(presets, tmp_path):
    path = shutil.copytree(presets["bert"].path, tmp_path / "bert")
    os.remove(path / "model.weights.h5")
    one_line_error(lambda: open_checkpoint(str(path)), f"{path}/model.weights.h5: missing")


def test_weights_file_missing_a_variable(presets, tmp_path):
    path = shutil.copytree(presets["gpt2"].path, tmp_path / "gpt2")
    name = "layers/transformer_decoder_1/_feedforward_output_dense/vars/1"
    with h5py.File(path / "model.weights.h5", "a") as f:
        del f[name]
    one_line_error(lambda: open_checkpoint(str(path)), f"{path}/model.weights.h5",
                   f"no variable '{name}'", "layer_1/feed_forward/output/bias")
