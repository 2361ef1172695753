"""The paper's released TF1 Hub modules (`google/bertseq2seq/*`: bert24_en_de, bert24_de_en,
roberta24_cnndm, roberta24_bbc, roberta24_gigaword, roberta24_discofuse, roberta24_wikisplit),
read from the files alone: the module's graph is never loaded or run.

A module directory holds `tfhub_module.pb` (a `ModuleDef` proto, format FORMAT_V3 = 3),
`saved_model.pb`, `variables/variables.{index,data-*}` (a name-based TF checkpoint, read with
`tf.train.load_checkpoint`) and `assets/` (the vocabulary, read as files).

Variable names (what is known comes from transformers' `load_tf_weights_in_bert_generation`,
which reads `hub.Module(path).variable_map`, drops two leading scope components and then finds
BERT's TF1 names; the exact scope is NOT known, so names are matched by their suffix and any
leading scope is accepted):

    <scope>embeddings/{word_embeddings, position_embeddings, LayerNorm/{gamma,beta}}
        (no token_type_embeddings; used if present). A second set under a scope containing
        "decoder" is the decoder's own (then the two stacks do not share embeddings).
    <scope>encoder/layer_N/attention/self/{query,key,value}/{kernel,bias}
                          /attention/output/dense/{kernel,bias}, attention/output/LayerNorm/*
                          /intermediate/dense/*, output/dense/*, output/LayerNorm/*
    <scope>decoder/layer_N/  the same, plus the cross-attention
                          /attention/encdec/{query,key,value}/{kernel,bias}
                          /attention/encdec_output/dense/{kernel,bias}
                          /attention/encdec_output/LayerNorm/{gamma,beta}
    <scope>output_bias (e.g. cls/predictions/output_bias): the output bias beside the
        projection tied to the word embeddings (output_head=bias; without one: tied; with
        BERT's cls/predictions/transform beside it: lm_head).
    anything containing "global" (global_step): skipped, as the transformers converter does.

Shared modules (the paper's bertShare / robertaShare) have one stack: the decoder's
self-attention and feed-forward ARE the encoder's `encoder/layer_N`, and only its
cross-attention is its own, under `decoder/layer_N/attention/encdec*` or (a layout the
transformers converter's code also allows) under `encoder/layer_N/attention/encdec*`.

Architecture: from the variables' shapes (vocabulary, hidden size, layers, intermediate size,
positions). The number of attention heads is NOT stored in a module: it comes from a
`bert_config.json`-like file in `assets/` (`num_attention_heads`) when there is one, else from
BERT's convention hidden_size / 64 (BERT-large and RoBERTa-large: 1024 / 64 = 16, as the
released models). The rest is the BERT layout of the paper's TF code: tanh GELU, LayerNorm
epsilon 1e-12, positions from 0, no token types. The roberta24 modules are RoBERTa weights in
this BERT layout (family `bert`) with RoBERTa's byte-level BPE vocabulary.

Vocabulary (`assets/`): a SentencePiece `*.model`, RoBERTa's BPE (`encoder.json` + `vocab.bpe`
[+ `dict.txt`], or `vocab.json` + `merges.txt`) or a WordPiece `vocab.txt` (cased, as the
released bert24 models, unless an assets config says `do_lower_case` or the path says
"uncased").
"""
import json
import os
import re
from typing import Dict, Optional, Tuple

import numpy as np

from bert2bert import textfiles
from bert2bert.checkpoints.base import (
    CheckpointError, gelu_is_tanh, require_file, trained_architecture)
from bert2bert.checkpoints.bert_tf1 import LAYER_NAMES
from bert2bert.checkpoints.layout import HEAD_REASON, layer_table
from bert2bert.checkpoints.seq2seq import Seq2SeqCheckpoint
from bert2bert.checkpoints.tf1 import open_tf1

CROSS_NAMES = {
    "cross_attention/query/kernel": "attention/encdec/query/kernel",
    "cross_attention/query/bias": "attention/encdec/query/bias",
    "cross_attention/key/kernel": "attention/encdec/key/kernel",
    "cross_attention/key/bias": "attention/encdec/key/bias",
    "cross_attention/value/kernel": "attention/encdec/value/kernel",
    "cross_attention/value/bias": "attention/encdec/value/bias",
    "cross_attention/output/kernel": "attention/encdec_output/dense/kernel",
    "cross_attention/output/bias": "attention/encdec_output/dense/bias",
    "cross_attention_norm/gamma": "attention/encdec_output/LayerNorm/gamma",
    "cross_attention_norm/beta": "attention/encdec_output/LayerNorm/beta",
}
EMBEDDING_NAMES = {
    "embeddings/word": "word_embeddings",
    "embeddings/position": "position_embeddings",
    "embeddings/token_type": "token_type_embeddings",
    "embeddings/norm/gamma": "LayerNorm/gamma",
    "embeddings/norm/beta": "LayerNorm/beta",
}
HEAD_NAMES = {
    "head/bias": "output_bias",
    "head/transform/kernel": "transform/dense/kernel",
    "head/transform/bias": "transform/dense/bias",
    "head/norm/gamma": "transform/LayerNorm/gamma",
    "head/norm/beta": "transform/LayerNorm/beta",
}
LAYER_RE = re.compile(
    r"^(?P<scope>(?:.*/)?)(?P<stack>encoder|decoder)/layer_(?P<i>\d+)/(?P<rest>.+)$")
EMBEDDINGS_RE = re.compile(r"^(?P<scope>(?:.*/)?)embeddings/(?P<rest>.+)$")
OUTPUT_BIAS_RE = re.compile(r"(^|/)output_bias$")
SKIPPED = re.compile(r"global")
# assets/ file name -> vocabulary file key (bert2bert.text.from_files.FILE_KEYS); *.model is
# SentencePiece.
VOCAB_ASSETS = {"vocab.txt": "vocab_txt", "encoder.json": "encoder_json",
                "vocab.bpe": "vocab_bpe", "dict.txt": "dict_txt", "vocab.json": "vocab_json",
                "merges.txt": "merges_txt"}
HEAD_SIZE = 64  # BERT's convention: hidden_size / num_heads = 64 (base and large)
FORMAT_V3 = 3  # tensorflow_hub/module_def.proto: ModuleDef.Format


def is_hub_module(path: str) -> bool:
    """A directory with `tfhub_module.pb` and `variables/variables.index` (cheap: names)."""
    return (textfiles.isdir(path) and textfiles.isfile(textfiles.join(path, "tfhub_module.pb"))
            and textfiles.isfile(textfiles.join(path, "variables", "variables.index")))


def module_format(path: str) -> Optional[int]:
    """ModuleDef.format (proto field 1, a varint) of a `tfhub_module.pb`; None if unset."""
    with textfiles.open_file(path, "rb") as f:
        data = f.read(64)
    if not data or data[0] != 0x08:  # field 1, wire type 0 comes first when set
        return None
    value, shift = 0, 0
    for byte in data[1:]:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value
    return None


class BertSeq2SeqHubReader(Seq2SeqCheckpoint):
    """A bertseq2seq TF1 Hub module (see the module docstring for the names it reads)."""

    format_name = "bertseq2seq_hub"
    description = "bertseq2seq TF1 Hub module (tfhub_module.pb + variables/ + assets/)"
    family = "bert"
    ignore_patterns = [
        (SKIPPED, "training step counter (names containing 'global' are not weights)"),
        (re.compile(r"(^|/)cls/"), HEAD_REASON),
        (re.compile(r"(^|/)pooler/"), "pooler (classification head input), not used for "
                                      "generation"),
    ]

    @classmethod
    def detect(cls, path):
        return is_hub_module(path)

    def __init__(self, path):
        super().__init__(path)
        module_pb = require_file(textfiles.join(path, "tfhub_module.pb"), "tfhub_module.pb")
        found = module_format(module_pb)
        if found is not None and found != FORMAT_V3:
            raise CheckpointError(f"{module_pb}: module format {found}; only the TF1 Hub "
                                  f"format FORMAT_V3 ({FORMAT_V3}) is known")
        self.prefix = textfiles.join(path, "variables", "variables")
        require_file(self.prefix + ".index", "variables/variables.index")
        self.weights_file = self.prefix
        self._reader = open_tf1(self.prefix)
        self._shapes = {n: tuple(s) for n, s in
                        self._reader.get_variable_to_shape_map().items()}
        self.assets = textfiles.join(path, "assets")
        self._assets_config, self._assets_config_file = self._read_assets_config()
        self._find_layout()
        self.encoder_config = self._arch("encoder", self._embeddings["encoder"],
                                         self._layers["encoder"])
        self.decoder_config = self._arch("decoder", self._embeddings["decoder"],
                                         self._layers["decoder"] if not self.shared
                                         else self._layers["encoder"])
        self._check_layers()
        self._find_head()
        self.encoder_table = self._table("encoder")
        self.decoder_table = self._table("decoder")
        self._find_vocabulary()

    # --- names ----------------------------------------------------------------
    def _find_layout(self):
        """Finds the embedding sets and layer stacks by their name suffixes, any scope."""
        layers: Dict[str, Dict[str, set]] = {"encoder": {}, "decoder": {}}
        embeddings: Dict[str, str] = {}
        for name in sorted(self._shapes):
            if SKIPPED.search(name):
                continue
            m = LAYER_RE.match(name)
            if m:
                side = ("decoder" if m["stack"] == "decoder" or "decoder" in m["scope"]
                        else "encoder")
                layer_prefix = f"{m['scope']}{m['stack']}/layer_"
                layers[side].setdefault(layer_prefix, set()).add(int(m["i"]))
                continue
            m = EMBEDDINGS_RE.match(name)
            if m and m["rest"] == "word_embeddings":
                embeddings.setdefault(m["scope"] + "embeddings/", m["scope"])
        for side, found in layers.items():
            if len(found) > 1:
                raise CheckpointError(f"{self.prefix}: {side} layers under several scopes "
                                      f"({', '.join(p + 'N' for p in sorted(found))})")
        self._embeddings = self._embedding_sets(embeddings)
        self._layers = {side: (next(iter(found.items())) if found else (None, set()))
                        for side, found in layers.items()}
        enc_prefix, enc_layers = self._layers["encoder"]
        dec_prefix, dec_layers = self._layers["decoder"]
        if enc_prefix is None:
            raise CheckpointError(f"{self.prefix}: no encoder/layer_N variables: not a "
                                  "bertseq2seq module")
        if dec_prefix is None:
            if f"{enc_prefix}0/{CROSS_NAMES['cross_attention/query/kernel']}" in self._shapes:
                # Shared, the cross-attention under the encoder's names.
                self.shared, self.cross_prefix = True, enc_prefix
                return
            raise CheckpointError(
                f"{self.prefix}: no decoder/layer_N variables: not a bertseq2seq module "
                "(a single BERT? use it as model.encoder_checkpoint)")
        self.cross_prefix = dec_prefix
        own = {i: f"{dec_prefix}{i}/{LAYER_NAMES['self_attention/query/kernel']}" in self._shapes
               for i in sorted(dec_layers)}
        if len(set(own.values())) > 1:
            raise CheckpointError(
                f"{self.prefix}: decoder layers {[i for i, o in own.items() if o]} have their "
                f"own self-attention ('{dec_prefix}N/attention/self/...') but layers "
                f"{[i for i, o in own.items() if not o]} do not: neither a shared nor an "
                "unshared module")
        self.shared = not any(own.values())

    def _embedding_sets(self, found: Dict[str, str]) -> Dict[str, str]:
        """side -> the prefix of its embeddings (`.../embeddings/`)."""
        if not found:
            raise CheckpointError(f"{self.prefix}: no variable '.../embeddings/word_embeddings':"
                                  " not a bertseq2seq module")
        if len(found) == 1:
            only = next(iter(found))
            self.separate_embeddings = False
            return {"encoder": only, "decoder": only}
        decoder = [p for p, scope in found.items() if "decoder" in scope]
        encoder = [p for p, scope in found.items() if "decoder" not in scope]
        if len(found) > 2 or len(decoder) != 1 or len(encoder) != 1:
            raise CheckpointError(
                f"{self.prefix}: {len(found)} sets of embeddings ("
                + ", ".join(p + "word_embeddings" for p in sorted(found))
                + "); expected one, or two with the decoder's under a scope containing "
                "'decoder'")
        self.separate_embeddings = True
        return {"encoder": encoder[0], "decoder": decoder[0]}

    def _find_head(self):
        biases = sorted(n for n in self._shapes if OUTPUT_BIAS_RE.search(n)
                        and not SKIPPED.search(n))
        if len(biases) > 1:
            raise CheckpointError(f"{self.prefix}: several output biases ({', '.join(biases)});"
                                  " expected at most one")
        V = self.decoder_config.vocab_size
        self.head_prefix = biases[0][: -len("output_bias")] if biases else None
        if self.head_prefix is None:
            self.output_head = "tied"
            return
        if self._shapes[biases[0]] != (V,):
            raise CheckpointError(
                f"{self.prefix}: inconsistent shapes: '{biases[0]}' is "
                f"{list(self._shapes[biases[0]])}, expected [{V}] (the decoder's vocabulary)")
        transform = self.head_prefix + HEAD_NAMES["head/transform/kernel"]
        self.output_head = "lm_head" if transform in self._shapes else "bias"

    def _table(self, side: str):
        emb = self._embeddings[side]
        table = {c: (emb + n, None) for c, n in EMBEDDING_NAMES.items()}
        if side == "encoder":
            return {**table, **layer_table(self._layers["encoder"][0] + "{i}/", LAYER_NAMES)}
        if self.shared:  # the decoder's stack is the encoder's
            table = {**self._table("encoder"),
                     **layer_table(self.cross_prefix + "{i}/", CROSS_NAMES, cross=True)}
        else:
            table.update(layer_table(self._layers["decoder"][0] + "{i}/",
                                     {**LAYER_NAMES, **CROSS_NAMES}, cross=True))
        if self.head_prefix is not None:
            table.update({c: (self.head_prefix + n, None) for c, n in HEAD_NAMES.items()})
        return table

    # --- architecture -----------------------------------------------------------
    def _read_assets_config(self) -> Tuple[dict, Optional[str]]:
        """A `bert_config.json`-like file in assets/ (one with `num_attention_heads`)."""
        for file in sorted(textfiles.glob(textfiles.join(self.assets, "*.json"))):
            if textfiles.getsize(file) > 1 << 20:
                continue
            try:
                with textfiles.open_file(file, "r", encoding="utf-8") as f:
                    raw = json.load(f)
            except (ValueError, OSError):
                continue
            if isinstance(raw, dict) and "num_attention_heads" in raw:
                return raw, file
        return {}, None

    def _shape(self, name: str) -> Tuple[int, ...]:
        if name not in self._shapes:
            raise CheckpointError(f"{self.prefix}: missing variable '{name}'")
        return self._shapes[name]

    def _arch(self, side, emb_prefix, layers):
        layer_prefix, indices = layers
        word = emb_prefix + "word_embeddings"
        vocab_size, hidden = self._shape(word)
        positions, width = self._shape(emb_prefix + "position_embeddings")
        if width != hidden:
            raise CheckpointError(
                f"{self.prefix}: inconsistent shapes: '{emb_prefix}position_embeddings' is "
                f"{[positions, width]} but '{word}' is {[vocab_size, hidden]}")
        expected = list(range(len(indices)))
        if sorted(indices) != expected:
            raise CheckpointError(f"{self.prefix}: {side} layers {sorted(indices)} under "
                                  f"'{layer_prefix}N': expected 0..{len(indices) - 1}")
        ffn = f"{layer_prefix}0/{LAYER_NAMES['feed_forward/intermediate/kernel']}"
        intermediate = self._shape(ffn)[-1]
        token_types = self._shapes.get(emb_prefix + "token_type_embeddings", (0,))[0]
        heads, source = self._num_heads(hidden)
        self.num_heads_from = source
        act = self._assets_config.get("hidden_act", "gelu")
        return trained_architecture(
            "bert", vocab_size=vocab_size, hidden_size=hidden, num_layers=len(indices),
            num_heads=heads, intermediate_size=intermediate, max_position_embeddings=positions,
            type_vocab_size=token_types, layer_norm_epsilon=1e-12,
            approximate_gelu=gelu_is_tanh(act, self._assets_config_file or self.path,
                                          plain_gelu_is_tanh=True))

    def _num_heads(self, hidden: int) -> Tuple[int, str]:
        if self._assets_config_file:
            heads = self._assets_config["num_attention_heads"]
            if not isinstance(heads, int) or heads < 1 or hidden % heads:
                raise CheckpointError(f"{self._assets_config_file}: num_attention_heads "
                                      f"{heads!r} does not divide the hidden size {hidden}")
            return heads, os.path.relpath(self._assets_config_file, self.path)
        if hidden % HEAD_SIZE:
            raise CheckpointError(
                f"{self.prefix}: hidden size {hidden} is not a multiple of {HEAD_SIZE} and no "
                "assets/bert_config.json gives num_attention_heads (a module does not store "
                "it)")
        return hidden // HEAD_SIZE, (f"hidden_size / {HEAD_SIZE} (BERT convention; a module "
                                     "does not store it)")

    def _expected_layer_shapes(self, config, encoder_width) -> Dict[str, Tuple[int, ...]]:
        H, I = config.hidden_size, config.intermediate_size
        shapes = {}
        for canonical, name in {**LAYER_NAMES, **CROSS_NAMES}.items():
            part, kind = canonical.split("/")[-2:]
            if kind in ("gamma", "beta"):
                shape = (H,)
            elif part == "intermediate":
                shape = (H, I) if kind == "kernel" else (I,)
            elif part == "output" and canonical.startswith("feed_forward"):
                shape = (I, H) if kind == "kernel" else (H,)
            elif canonical.startswith("cross_attention/") and part in ("key", "value"):
                shape = (encoder_width, H) if kind == "kernel" else (H,)
            else:
                shape = (H, H) if kind == "kernel" else (H,)
            shapes[canonical] = shape
        return shapes

    def _check_layers(self):
        """Every layer variable present with the shape the embeddings and layer 0 imply; every
        decoder layer with its cross-attention."""
        enc, dec = self.encoder_config, self.decoder_config
        dec_layers = self._layers["decoder"][1]
        if self.shared and dec_layers and sorted(dec_layers) != list(range(enc.num_layers)):
            raise CheckpointError(
                f"{self.prefix}: cross-attention in decoder layers {sorted(dec_layers)} but the "
                f"shared stack has {enc.num_layers} layers ('{self._layers['encoder'][0]}N')")
        if enc.hidden_size != dec.hidden_size:
            raise CheckpointError(
                f"{self.prefix}: inconsistent shapes: encoder hidden size {enc.hidden_size}, "
                f"decoder {dec.hidden_size} (from the word embeddings)")
        stacks = [("encoder", self._layers["encoder"][0], enc, LAYER_NAMES)]
        if self.shared:
            stacks.append(("decoder", self.cross_prefix, dec, CROSS_NAMES))
        else:
            stacks.append(("decoder", self._layers["decoder"][0], dec,
                           {**LAYER_NAMES, **CROSS_NAMES}))
        for side, prefix, config, names in stacks:
            expected = self._expected_layer_shapes(config, enc.hidden_size)
            for i in range(config.num_layers):
                for canonical, suffix in names.items():
                    name = f"{prefix}{i}/{suffix}"
                    if name not in self._shapes:
                        what = ("has no cross-attention variable" if canonical.startswith(
                            "cross_attention") else "is missing variable")
                        raise CheckpointError(f"{self.prefix}: {side} layer {i} {what} "
                                              f"'{name}'")
                    if self._shapes[name] != expected[canonical]:
                        raise CheckpointError(
                            f"{self.prefix}: inconsistent shapes: '{name}' is "
                            f"{list(self._shapes[name])}, expected {list(expected[canonical])} "
                            f"(hidden {config.hidden_size}, intermediate "
                            f"{config.intermediate_size})")
        for side, config in (("encoder", enc), ("decoder", dec)):
            emb = self._embeddings[side]
            for suffix in ("LayerNorm/gamma", "LayerNorm/beta"):
                if self._shape(emb + suffix) != (config.hidden_size,):
                    raise CheckpointError(
                        f"{self.prefix}: inconsistent shapes: '{emb}{suffix}' is "
                        f"{list(self._shapes[emb + suffix])}, expected [{config.hidden_size}]")

    # --- vocabulary ---------------------------------------------------------------
    def _find_vocabulary(self):
        files = {}
        if textfiles.isdir(self.assets):
            for name in sorted(textfiles.listdir(self.assets)):
                full = textfiles.join(self.assets, name)
                if not textfiles.isfile(full):
                    continue
                if name.endswith(".model"):
                    files.setdefault("spm_model", full)
                elif name in VOCAB_ASSETS:
                    files[VOCAB_ASSETS[name]] = full
        if "spm_model" in files:
            family, keys = "sentencepiece", ("spm_model",)
        elif "encoder_json" in files or "vocab_json" in files:
            family = "roberta"
            keys = ("encoder_json", "vocab_bpe", "dict_txt", "vocab_json", "merges_txt")
        elif "vocab_txt" in files:
            family, keys = "bert", ("vocab_txt",)
        else:
            raise CheckpointError(
                f"{self.assets}: no vocabulary asset (expected vocab.txt, a SentencePiece "
                "*.model, or encoder.json + vocab.bpe / vocab.json + merges.txt)")
        self.vocab_family = family
        self.vocab_files = {k: v for k, v in files.items() if k in keys}
        self.lowercase = None
        if family == "bert":
            lower = self._assets_config.get("do_lower_case")
            self.lowercase = (bool(lower) if lower is not None
                              else "uncased" in textfiles.absolute(self.path).lower())

    # --- reading ----------------------------------------------------------------
    def variables(self):
        return dict(self._shapes)

    def read(self, name):
        return np.asarray(self._reader.get_tensor(name), dtype=np.float32)

    def summary(self):
        return {**super().summary(), "num_heads_from": self.num_heads_from,
                "module_layout": {
                    "encoder_embeddings": self._embeddings["encoder"],
                    "decoder_embeddings": self._embeddings["decoder"],
                    "encoder_layers": self._layers["encoder"][0] + "N/",
                    "decoder_layers": (self._layers["decoder"][0] + "N/"
                                       if self._layers["decoder"][0] else None),
                    "cross_attention": self.cross_prefix + "N/attention/encdec*",
                    "output_bias": (self.head_prefix + "output_bias"
                                    if self.head_prefix is not None else None)}}
