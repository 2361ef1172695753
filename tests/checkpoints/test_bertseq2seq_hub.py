"""The paper's released TF1 Hub modules (`google/bertseq2seq/*`), on tiny modules written with
TF1 APIs (tests/fixtures/bertseq2seq_hub.py): detection, architecture, the warm-start report
accounting for every variable, the weights landing where it says, bertShare, `bert2bert import`
+ `inspect`, the strict errors, and the same tensors as the Hugging Face port of the same
weights under the names transformers' converter reads."""
import json
import os
import shutil

import numpy as np
import pytest

from bert2bert.checkpoints import CheckpointError, build_warm_started_model, open_checkpoint
from bert2bert.checkpoints.bertseq2seq_hub import BertSeq2SeqHubReader
from bert2bert.config import ModelConfig
from tests.fixtures import vocab as vocab_lib
from tests.fixtures.bertseq2seq_hub import write_bertseq2seq_hub, write_hub_module

HERE = os.path.dirname(os.path.abspath(__file__))
HF_SPM_PORT = os.path.join(os.path.dirname(HERE), "fixtures", "released", "hf", "bert2bert_spm")

# Writing the modules (TF1 graphs + SavedModel builder) takes ~1 s each: slow by pytest.ini's
# rule; the whole file runs in ~15 s on 2 shared cores.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """unshared: two embedding sets, an output bias, 2 heads of 16 from assets/bert_config.json.
    shared: one stack, tied output, hidden 128 and no config (2 heads of 64 by convention).
    shared_enc: shared, the cross-attention under encoder/layer_N, an output bias.
    tied: unshared with one embedding set and no output bias."""
    root = tmp_path_factory.mktemp("bertseq2seq_hub")
    return {
        "unshared": write_bertseq2seq_hub(root / "unshared", shared=False,
                                          separate_embeddings=True, seed=1),
        "shared": write_bertseq2seq_hub(root / "shared", shared=True, hidden_size=128,
                                        num_heads=None, intermediate_size=256,
                                        output_bias=False, seed=2),
        "shared_enc": write_bertseq2seq_hub(root / "shared_enc", shared=True,
                                            cross_under="encoder", seed=3),
        "tied": write_bertseq2seq_hub(root / "tied", shared=False, output_bias=False, seed=4),
    }


def config_for(path, **kw):
    s = open_checkpoint(path).import_settings()
    return ModelConfig(variant=s.variant, encoder_checkpoint=path, decoder_checkpoint=path,
                       output_head=s.output_head, share_embeddings=s.share_embeddings,
                       dtype_policy="float32", **kw)


def test_detection(modules, bert_tf1):
    for fx in modules.values():
        assert BertSeq2SeqHubReader.detect(fx.directory)
        assert open_checkpoint(fx.directory).format_name == "bertseq2seq_hub"
        assert open_checkpoint(fx.directory, format="bertseq2seq_hub").family == "bert"
    assert not BertSeq2SeqHubReader.detect(bert_tf1.directory)
    assert not BertSeq2SeqHubReader.detect(modules["unshared"].files["variables"] + ".index")
    with open(modules["unshared"].files["module_def"], "rb") as f:
        assert f.read() == b"\x08\x03"  # ModuleDef.format = FORMAT_V3


@pytest.mark.parametrize("name,variant,head,share,hidden,heads,intermediate,heads_from", [
    ("unshared", "bert2bert", "bias", False, 32, 2, 64, "assets/bert_config.json"),
    ("shared", "bertShare", "tied", True, 128, 2, 256, "hidden_size / 64"),
    ("shared_enc", "bertShare", "bias", True, 32, 2, 64, "assets/bert_config.json"),
    ("tied", "bert2bert", "tied", True, 32, 2, 64, "assets/bert_config.json")])
def test_architecture_and_settings(modules, name, variant, head, share, hidden, heads,
                                   intermediate, heads_from):
    reader = open_checkpoint(modules[name].directory)
    settings = reader.import_settings()
    assert (settings.variant, settings.output_head, settings.share_embeddings) == (
        variant, head, share)
    for c in (reader.encoder_config, reader.decoder_config):
        assert (c.family, c.vocab_size, c.num_layers, c.hidden_size, c.num_heads,
                c.intermediate_size, c.max_position_embeddings, c.type_vocab_size) == (
            "bert", 99, 2, hidden, heads, intermediate, 64, 0)
        assert c.approximate_gelu and c.layer_norm_epsilon == 1e-12
    summary = reader.summary()
    assert summary["num_heads_from"].startswith(heads_from)
    assert summary["sharing"] == ("all" if variant == "bertShare" else
                                  "embeddings" if share else "none")
    assert reader.vocab_family == "bert" and reader.lowercase is False
    assert reader.vocab_files == {"vocab_txt": modules[name].files["vocab"]}
    decoder = reader.for_side("decoder").sources()
    assert "layer_1/cross_attention_norm/gamma" in decoder
    assert ("head/bias" in decoder) == (head == "bias")
    assert not any("cross_attention" in c for c in reader.for_side("encoder").sources())


def _check_report_and_values(model, report, fx, checks):
    """Every module variable used or ignored with a reason; `checks` ({module name: expected
    model-variable path fragment}) land there, with the module's values (head-split)."""
    rows = report.checkpoint_variables[fx.prefix]
    assert {r.name for r in rows} == set(fx.weights)
    for r in rows:
        assert bool(r.used_by) != bool(r.ignored), r
    ignored = {r.name: r.ignored for r in rows if r.ignored}
    assert set(ignored) == {"global_step"}, ignored
    assert report.counts()["random_parameters"] == 0
    by_path = {v.path: v for v in model.variables}
    origins = {}
    for o in report.model_variables:
        origins.setdefault(o.source, []).append(o.variable)
    for name, fragment in checks.items():
        paths = origins[f"{fx.prefix}:{name}"]
        assert any(fragment in p for p in paths), (name, paths)
        for path in paths:
            variable = by_path[path]
            np.testing.assert_array_equal(
                variable.numpy(), fx.weights[name].reshape(variable.shape), err_msg=name)
    return by_path, origins


def test_unshared_module_lands_where_the_report_says(modules):
    fx = modules["unshared"]
    model, report = build_warm_started_model(config_for(fx.directory))
    assert model.spec.variant == "bert2bert"
    dec = "module/bert/decoder/layer_1/"
    by_path, _ = _check_report_and_values(model, report, fx, {
        "module/bert/encoder/layer_0/attention/self/query/kernel":
            "encoder/block_0/self_attention/query/kernel",
        dec + "attention/encdec/key/kernel": "decoder/block_1/cross_attention/key/kernel",
        dec + "attention/encdec_output/dense/kernel":
            "decoder/block_1/cross_attention/attention_output/kernel",
        dec + "attention/encdec_output/LayerNorm/gamma": "decoder/block_1/cross_attention_norm",
        dec + "attention/self/value/bias": "decoder/block_1/self_attention/value/bias",
        "module/bert/embeddings/word_embeddings": "encoder/embeddings/word_embeddings",
        "module/bert_decoder/embeddings/word_embeddings": "decoder/embeddings/word_embeddings",
        "module/cls/predictions/output_bias": "output",
    })
    cross_key = by_path["bert2bert/decoder/block_1/cross_attention/key/kernel"]
    assert tuple(cross_key.shape) == (32, 2, 16)  # [H, N, h]
    np.testing.assert_array_equal(
        cross_key.numpy(), fx.weights[dec + "attention/encdec/key/kernel"].reshape(32, 2, 16))
    # Two embedding sets: two matrices.
    assert model.decoder.embeddings.word_embeddings is not model.encoder.embeddings.word_embeddings


@pytest.mark.parametrize("name", ["shared", "shared_enc"])
def test_shared_module_builds_bertshare(modules, name):
    fx = modules[name]
    model, report = build_warm_started_model(config_for(fx.directory))
    assert model.spec.variant == "bertShare"
    enc_block, dec_block = model.encoder.blocks[1], model.decoder.blocks[1]
    assert dec_block.self_attention is enc_block.self_attention  # the encoder's, not a copy
    assert dec_block.feed_forward is enc_block.feed_forward
    cross = ("decoder" if name == "shared" else "encoder")
    _, origins = _check_report_and_values(model, report, fx, {
        "module/bert/encoder/layer_1/attention/self/query/kernel":
            "encoder/block_1/self_attention/query/kernel",
        f"module/bert/{cross}/layer_1/attention/encdec/query/kernel":
            "decoder/block_1/cross_attention/query/kernel",
        f"module/bert/{cross}/layer_0/attention/encdec_output/LayerNorm/beta":
            "decoder/block_0/cross_attention_norm/beta"})
    # One loaded copy: the shared self-attention is loaded once, from the encoder's names.
    assert len(origins[f"{fx.prefix}:module/bert/encoder/layer_1/attention/self/query/kernel"]) == 1
    assert (model.output_head is None) == (name == "shared")


def test_import_then_inspect(modules, tmp_path, capsys):
    from bert2bert.cli import main

    fx = modules["shared"]
    run = str(tmp_path / "run")
    assert main(["import", fx.directory, "--output", run, "--set", "task.max_source_length=24",
                 "--set", "task.max_target_length=16"]) == 0
    out = capsys.readouterr().out
    assert "bertShare" in out
    with open(os.path.join(run, "warm_start.json")) as f:
        ws = json.load(f)
    assert ws["counts"]["random_parameters"] == 0
    assert ws["checkpoints"]["decoder"]["format"] == "bertseq2seq_hub"
    assert main(["inspect", fx.directory, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "bertseq2seq_hub" and info["sharing"] == "all"
    assert info["imports_as"] == {"variant": "bertShare", "output_head": "tied",
                                  "share_embeddings": True}
    assert info["vocabulary_family"] == "bert"
    vocab = info["vocabulary"]
    assert vocab["size"] == 99 and vocab["lowercase"] is False
    assert vocab["files"] == [fx.files["vocab"]]
    assert vocab["special_tokens"]["start_id"] == 2  # [CLS] of the small vocabulary


# --- strict errors ------------------------------------------------------------------------


def _rewrite(fx, directory, drop=(), change=None, assets=None):
    weights = {n: v for n, v in fx.weights.items() if n not in drop}
    weights.update(change or {})
    if assets is None:  # the fixture's own
        assets = {}
        for role, name in (("vocab", "vocab.txt"), ("bert_config", "bert_config.json")):
            with open(fx.files[role], encoding="utf-8") as f:
                assets[name] = f.read()
    write_hub_module(directory, weights, assets)
    return str(directory)


def _error(path) -> str:
    with pytest.raises(CheckpointError) as e:
        open_checkpoint(path)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_single_bert_is_not_a_seq2seq_module(modules, tmp_path):
    fx = modules["unshared"]
    path = _rewrite(fx, tmp_path / "m", drop=[n for n in fx.weights if "decoder" in n])
    message = _error(path)
    assert os.path.join(path, "variables", "variables") in message
    assert "no decoder/layer_N variables: not a bertseq2seq module" in message
    assert "model.encoder_checkpoint" in message


def test_missing_cross_attention(modules, tmp_path):
    fx = modules["unshared"]
    name = "module/bert/decoder/layer_1/attention/encdec/value/kernel"
    message = _error(_rewrite(fx, tmp_path / "m", drop=[name]))
    assert f"decoder layer 1 has no cross-attention variable '{name}'" in message


def test_inconsistent_shapes(modules, tmp_path):
    fx = modules["unshared"]
    name = "module/bert/decoder/layer_1/output/dense/kernel"
    message = _error(_rewrite(fx, tmp_path / "m",
                              change={name: np.zeros((48, 32), np.float32)}))
    assert f"inconsistent shapes: '{name}' is [48, 32], expected [64, 32]" in message


def test_no_vocabulary_asset(modules, tmp_path):
    path = shutil.copytree(modules["shared"].directory, tmp_path / "m")
    os.remove(os.path.join(path, "assets", "vocab.txt"))
    assert "no vocabulary asset" in _error(str(path))


def test_unknown_module_format(modules, tmp_path):
    path = shutil.copytree(modules["shared"].directory, tmp_path / "m")
    with open(os.path.join(path, "tfhub_module.pb"), "wb") as f:
        f.write(b"\x08\x01")
    assert "tfhub_module.pb: module format 1" in _error(str(path))


def test_no_heads_without_config_needs_a_multiple_of_64(modules, tmp_path):
    fx = modules["unshared"]  # hidden 32
    message = _error(_rewrite(fx, tmp_path / "m", assets={
        "vocab.txt": "\n".join(vocab_lib.bert_vocab_tokens(99, lowercase=False)) + "\n"}))
    assert "hidden size 32 is not a multiple of 64" in message


# --- the same tensors as the Hugging Face port ------------------------------------------------


def hf_to_hub_name(key: str):
    """The module variable that transformers' `load_tf_weights_in_bert_generation` would load
    into HF port parameter `key` (its inverse), with this fixture's scope `module/bert/`;
    the decoder's own embeddings (a converted module would give both halves the same ones)
    under `module/bert_decoder/`, the decoder's output bias as cls/predictions/output_bias."""
    if key == "decoder.lm_head.bias":
        return "module/cls/predictions/output_bias", False
    side, _, rest = key.partition(".")
    if side == "decoder":
        rest = rest[len("bert."):]
    parts = rest.split(".")
    if parts[0] == "embeddings":
        scope = "module/bert_decoder/" if side == "decoder" else "module/bert/"
        leaf = {"weight": "gamma", "bias": "beta"}[parts[-1]] if parts[1] == "LayerNorm" else ""
        name = "/".join(parts[:-1]) + ("/" + leaf if leaf else "")
        return scope + name, False
    assert parts[:2] == ["encoder", "layer"], key
    layer, sub = parts[2], parts[3:]
    path = ".".join(sub[:-1])
    path = path.replace("crossattention.self.", "attention.encdec.")
    path = path.replace("crossattention.output.", "attention.encdec_output.")
    leaf = {"weight": "kernel", "bias": "bias"}[sub[-1]]
    if path.endswith("LayerNorm"):
        leaf = {"weight": "gamma", "bias": "beta"}[sub[-1]]
    name = f"module/bert/{side}/layer_{layer}/{path.replace('.', '/')}/{leaf}"
    return name, leaf == "kernel"


def test_same_tensors_as_the_hugging_face_port(tmp_path):
    from safetensors.numpy import load_file

    hf_weights = load_file(os.path.join(HF_SPM_PORT, "model.safetensors"))
    module = {}
    for key, value in hf_weights.items():
        name, transpose = hf_to_hub_name(key)
        module[name] = np.ascontiguousarray(value.T if transpose else value)
    module["global_step"] = np.asarray(7, np.int64)
    path = str(tmp_path / "bert24_like")
    with open(os.path.join(HF_SPM_PORT, "config.json")) as f:
        heads = json.load(f)["encoder"]["num_attention_heads"]
    write_hub_module(path, module, {"bert_config.json": json.dumps(
        {"num_attention_heads": heads})})
    shutil.copy(os.path.join(HF_SPM_PORT, "spiece.model"), os.path.join(path, "assets"))
    hub, hf = open_checkpoint(path), open_checkpoint(HF_SPM_PORT)
    assert (hub.format_name, hf.format_name) == ("bertseq2seq_hub", "hf_encoder_decoder")
    assert hub.import_settings() == hf.import_settings()
    assert hub.vocab_family == hf.vocab_family == "sentencepiece"
    for side in ("encoder", "decoder"):
        ours, theirs = hub.for_side(side), hf.for_side(side)
        assert ours.config == theirs.config.__class__(
            **{**theirs.config.__dict__, "approximate_gelu": True})  # HF's "gelu" is erf
        assert set(ours.sources()) == set(theirs.sources())
        for canonical in ours.sources():
            np.testing.assert_array_equal(ours.tensor(canonical), theirs.tensor(canonical),
                                          err_msg=f"{side} {canonical}")
