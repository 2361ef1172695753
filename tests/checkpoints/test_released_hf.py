"""The paper's released models as Hugging Face ports (`EncoderDecoderModel` directories of two
`bert-generation` halves): read, warm-started, imported as a run, exported and served, against
what transformers itself computed on the same inputs (tests/fixtures/released/hf/*/
reference.json, written with the fixtures by make_hf_ports.py in the peer venv)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.checkpoints import CheckpointError, build_warm_started_model, open_checkpoint
from bert2bert.config import DecodeConfig, ModelConfig
from bert2bert.data.features import PairEncoder
from bert2bert.decoding import decode

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PORTS = os.path.join(REPO, "tests", "fixtures", "released", "hf")
SPM, SHARED, BERT2GPT = (os.path.join(PORTS, n) for n in (
    "bert2bert_spm", "roberta2roberta_bpe_shared", "bert2gpt"))
ANCHOR = os.path.join(REPO, ".anchor", "bin", "python")

pytestmark = pytest.mark.slow  # warm-started models and decoding (a few seconds each)


def reference(path):
    with open(os.path.join(path, "reference.json")) as f:
        return json.load(f)


def imported_model(path):
    settings = open_checkpoint(path).import_settings()
    config = ModelConfig(variant=settings.variant, encoder_checkpoint=path,
                         decoder_checkpoint=path, output_head=settings.output_head,
                         share_embeddings=settings.share_embeddings, dropout=0.0,
                         attention_dropout=0.0, dtype_policy="float32")
    return build_warm_started_model(config)


def our_logits(model, ref):
    dec = tf.constant(ref["decoder_input_ids"])
    return model({"encoder_token_ids": tf.constant(ref["source_ids"]),
                  "encoder_padding_mask": tf.constant(ref["source_mask"]),
                  "decoder_token_ids": dec, "decoder_padding_mask": tf.ones_like(dec)}).numpy()


@pytest.mark.parametrize("path,variant,head,share,vocab", [
    (SPM, "bert2bert", "bias", False, "sentencepiece"),
    (SHARED, "bertShare", "bias", True, "roberta")])
def test_port_is_recognised_with_its_architecture(path, variant, head, share, vocab):
    reader = open_checkpoint(path)
    assert reader.format_name == "hf_encoder_decoder"
    settings = reader.import_settings()
    assert (settings.variant, settings.output_head, settings.share_embeddings) == (
        variant, head, share)
    assert reader.vocab_family == vocab
    dec = reader.decoder_config
    assert (dec.num_layers, dec.hidden_size, dec.num_heads, dec.type_vocab_size) == (2, 32, 2, 0)
    decoder = reader.for_side("decoder").sources()
    assert "layer_1/cross_attention/value/kernel" in decoder and "head/bias" in decoder
    assert "layer_0/cross_attention/query/kernel" not in reader.for_side("encoder").sources()


def test_a_gpt2_decoder_half_is_bert2gpt_with_two_vocabularies():
    reader = open_checkpoint(BERT2GPT)
    assert reader.import_settings().variant == "bert2gpt"
    assert reader.import_settings().output_head == "tied"
    enc, dec = (reader.for_side(s) for s in ("encoder", "decoder"))
    assert (enc.family, dec.family) == ("bert", "gpt2")
    assert enc.vocabulary().family == "bert" and dec.vocabulary().family == "gpt2"
    assert dec.config.norm_first and dec.config.type_vocab_size == 0
    sources = dec.sources()
    assert sources["layer_0/cross_attention/key/kernel"].transform.startswith("part 0 of 2")
    assert sources["layer_0/cross_attention/value/bias"].transform.startswith("part 1 of 2")
    assert sources["layer_1/cross_attention_norm/gamma"].name.endswith("h.1.ln_cross_attn.weight")


@pytest.mark.parametrize("path", [SPM, SHARED, BERT2GPT])
def test_sources_tokenize_as_transformers_does(path):
    ref = reference(path)
    reader = open_checkpoint(path)
    encoder = PairEncoder(reader.for_side("encoder").tokenizer(),
                          reader.for_side("decoder").tokenizer(), 64, 16)
    ours = encoder.sources(tf.constant(ref["sources"])).to_list()
    theirs = [[t for t, m in zip(row, mask) if m] for row, mask in
              zip(ref["source_ids"], ref["source_mask"])]
    assert ours == theirs


@pytest.mark.parametrize("path", [SPM, SHARED, BERT2GPT])
def test_logits_and_searches_equal_transformers(path):
    ref = reference(path)
    model, report = imported_model(path)
    assert report.counts()["random_parameters"] == 0
    np.testing.assert_allclose(our_logits(model, ref), np.array(ref["logits"]), atol=1e-4)
    special = open_checkpoint(path).for_side("decoder").tokenizer().special_tokens
    assert sorted({special.start_id, special.pad_id} - {special.end_id}) == ref["never_generated"]
    for name, beams in (("greedy", 1), ("beam4", 4)):  # length_penalty 0 = alpha 0
        ids, lengths = decode(model, tf.constant(ref["source_ids"]),
                              tf.constant(ref["source_mask"]),
                              DecodeConfig(beam_size=beams, alpha=0.0), special,
                              ref["max_new_tokens"])
        ours = [row[:n].tolist() for row, n in zip(ids.numpy(), lengths.numpy())]
        assert ours == ref[name]["ids"], name


def test_report_accounts_for_every_variable_and_the_shared_copies():
    _, report = imported_model(SHARED)
    rows = [r for rs in report.checkpoint_variables.values() for r in rs]
    assert rows and all(r.used_by or r.ignored for r in rows)
    copies = [r for r in rows if r.name.startswith("decoder.bert.") and "crossattention" not in
              r.name and r.name != "decoder.bert.embeddings.word_embeddings.weight"]
    assert copies and all("already loaded from the other side" in r.ignored for r in copies)
    cross = [r for r in rows if "crossattention" in r.name]
    assert len(cross) == 2 * 10 and all(r.used_by for r in cross)
    model_rows = {v.variable: v for v in report.model_variables}
    xq = [v for p, v in model_rows.items() if "cross_attention" in p and "query/kernel" in p]
    assert xq and all("crossattention.self.query.weight" in v.source for v in xq)


def test_shared_port_whose_file_holds_the_encoder_copy_alone(tmp_path):
    """A tied port may store each shared tensor once (under the encoder's name)."""
    from safetensors.numpy import load_file, save_file

    target = tmp_path / "port"
    shutil.copytree(SHARED, target)
    tensors = load_file(str(target / "model.safetensors"))
    kept = {k: v for k, v in tensors.items()
            if not k.startswith("decoder.bert.") or "crossattention" in k}
    assert len(kept) < len(tensors)
    save_file(kept, str(target / "model.safetensors"))
    model, _ = imported_model(str(target))
    ref = reference(SHARED)
    np.testing.assert_allclose(our_logits(model, ref), np.array(ref["logits"]), atol=1e-4)


def test_strict_errors_name_the_file_and_variable(tmp_path):
    from safetensors.numpy import load_file, save_file

    half = tmp_path / "half"
    shutil.copytree(SPM, half)
    tensors = load_file(str(half / "model.safetensors"))
    del tensors["decoder.bert.encoder.layer.1.crossattention.self.query.weight"]
    save_file(tensors, str(half / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: missing variable "
                                              r"'decoder\.bert\.encoder\.layer\.1\."
                                              r"crossattention\.self\.query\.weight'"):
        open_checkpoint(str(half))

    pickled = tmp_path / "pickled"
    shutil.copytree(SPM, pickled)
    os.rename(pickled / "model.safetensors", pickled / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pytorch_model.bin: PyTorch pickles") as e:
        open_checkpoint(str(pickled))
    assert "\n" not in str(e.value)

    gpt2 = tmp_path / "gpt2"
    shutil.copytree(SPM, gpt2)
    config = json.loads((gpt2 / "config.json").read_text())
    config["encoder"]["model_type"] = "gpt2"  # GPT-2 can only be a decoder
    (gpt2 / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config\.json: the encoder is 'gpt2'; expected "
                                              r"one of bert-generation, bert, roberta$"):
        open_checkpoint(str(gpt2))
    config["encoder"]["model_type"], config["decoder"]["model_type"] = "bert-generation", "gpt2"
    (gpt2 / "config.json").write_text(json.dumps(config))  # a BERT half called gpt2
    with pytest.raises(CheckpointError, match=r"config\.json: not a valid gpt2 half "
                                              r"\(KeyError: 'n_embd'\)"):
        open_checkpoint(str(gpt2))


def test_inspect_recognises_the_port(capsys):
    from bert2bert.cli import main

    assert main(["inspect", SHARED, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "hf_encoder_decoder" and info["sharing"] == "all"
    assert info["imports_as"]["variant"] == "bertShare"
    assert info["vocabulary"]["special_tokens"]["start_id"] == 0
    assert info["decoder_config"]["num_layers"] == 2


def test_import_export_and_serve_equal_transformers_generate(tmp_path):
    """`bert2bert import` -> `export` -> a fresh process that imports only TensorFlow: the
    strings of transformers' `generate` (beam 4, length_penalty 0)."""
    from bert2bert.cli import main
    from bert2bert.demo import reload_and_predict

    run, export = str(tmp_path / "run"), str(tmp_path / "export")
    assert main(["import", SPM, "--output", run, "--set", "model.dtype_policy=float32",
                 "--set", "task.max_source_length=40", "--set", "task.max_target_length=12",
                 "--set", "decode.alpha=0"]) == 0
    assert {"ckpt-0.index", "config.yaml", "vocab", "warm_start.json"} <= set(os.listdir(run))
    stamp = os.path.getmtime(os.path.join(run, "ckpt-0.index"))
    assert main(["import", SPM, "--output", run]) != 0  # never over an existing run
    assert os.path.getmtime(os.path.join(run, "ckpt-0.index")) == stamp
    assert main(["export", "--model_dir", run, "--output", export]) == 0
    version = os.path.join(export, sorted(os.listdir(export))[-1])
    ref = reference(SPM)
    assert reload_and_predict(version, ref["sources"]) == ref["beam4"]["text"]


def test_fine_tuning_an_imported_model_starts_at_step_0_and_learns(tmp_path):
    from bert2bert.config import load_config
    from bert2bert.training.import_model import import_model
    from bert2bert.training.loop import train

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{s}\n" for s in reference(SPM)["sources"] * 4))
    sets = ["model.dtype_policy=float32", "model.dropout=0.0", "model.attention_dropout=0.0",
            "task.name=copy", "task.file_format=tsv", "task.source_key=0", "task.target_key=1",
            f"task.data_files={{train: {data}, validation: {data}}}",
            "task.max_source_length=40", "task.max_target_length=24", "train.batch_size=4",
            "train.train_steps=12", "train.log_every=4", "train.checkpoint_every=12",
            "optimizer.learning_rate=3e-3", "optimizer.warmup_steps=2"]
    run = str(tmp_path / "run")
    imported = import_model(SPM, run, overrides=sets)
    result = train(load_config(None, sets + [f"model.encoder_checkpoint={SPM}",
                                             f"model.decoder_checkpoint={SPM}",
                                             f"model.variant={imported.settings.variant}",
                                             "model.output_head=bias",
                                             "model.share_embeddings=false",
                                             "model.max_position_embeddings=64"]),
                   run, progress=False)
    assert result.start_step == 0 and result.final_step == 12
    assert np.mean(result.losses[-3:]) < np.mean(result.losses[:3]) - 0.3


@pytest.mark.skipif(not os.path.exists(ANCHOR), reason="the peer venv (make anchor) is absent")
def test_logits_equal_transformers_live_in_the_peer_venv():
    """The same comparison against transformers run now (not the stored reference)."""
    script = ("import json,sys,torch\nfrom transformers import EncoderDecoderModel\n"
              "m=EncoderDecoderModel.from_pretrained(sys.argv[1]).eval()\n"
              "r=json.load(open(sys.argv[1]+'/reference.json'))\n"
              "with torch.no_grad():\n"
              " o=m(input_ids=torch.tensor(r['source_ids']),"
              "attention_mask=torch.tensor(r['source_mask']),"
              "decoder_input_ids=torch.tensor(r['decoder_input_ids'])).logits\n"
              "print(json.dumps(o.tolist()))")
    out = subprocess.run([ANCHOR, "-c", script, SHARED], capture_output=True, text=True,
                         timeout=600, check=True)
    theirs = np.array(json.loads(out.stdout.strip().splitlines()[-1]))
    model, _ = imported_model(SHARED)
    np.testing.assert_allclose(our_logits(model, reference(SHARED)), theirs, atol=1e-4)
