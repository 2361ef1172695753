"""KerasHub presets (config.json + model.weights.h5 + assets/tokenizer/) of BERT, RoBERTa, GPT-2.

`XBackbone.save_to_preset(dir)` writes the backbone's Keras config to `config.json` and its
variables to `model.weights.h5` (the Keras 3 weights format); a tokenizer's `save_to_preset`
adds `tokenizer.json` and `assets/tokenizer/` (`vocabulary.txt`, or `vocabulary.json` +
`merges.txt`). The weights are read with h5py: keras_hub is not imported, no model is built.

The h5 file is laid out as Keras loads it: each layer of the backbone under
`layers/<its class in snake case>[_k]` (k counts earlier layers of that class), its sub-layers
under their attribute names and its variables as `vars/0`, `vars/1` in creation order (kernel,
bias; gamma, beta). Block i is `layers/transformer_encoder_i` (`transformer_decoder_i` for
GPT-2; no suffix for i = 0). The original names reported are these h5 paths.

Facts of keras_hub 0.32 (its backbone code, not the config, fixes them):
    * attention kernels are already [H, N, h], the output kernel [N, h, H];
    * GELU is tanh in BertBackbone and GPT2Backbone, exact (Keras "gelu") in RobertaBackbone;
    * LayerNorm epsilon is 1e-12 for BERT, 1e-5 for RoBERTa and GPT-2;
    * RoBERTa has no token-type table, and its position table has max_sequence_length rows
      read from row 0 (keras_hub's Hugging Face converter drops RoBERTa's two padding rows).
      Our roberta stacks read row i + 2 (`position_offset`, a layout fact of the family that a
      checkpoint cannot change), so the table is given with two zero rows in front:
      max_position_embeddings = max_sequence_length + 2, like Hugging Face's 514 for 512.
A task preset's `task.weights.h5` (masked-LM or classifier head) is not read.
"""
import json
import re
from typing import Dict, Tuple

import numpy as np

from bert2bert import textfiles
from bert2bert.checkpoints.base import (
    CheckpointError, CheckpointReader, read_config, require_file, trained_architecture)
from bert2bert.checkpoints.layout import Pre, build_sources
from bert2bert.spec import ArchSpec

CONFIG, WEIGHTS = "config.json", "model.weights.h5"
FAMILIES = {"BertBackbone": "bert", "RobertaBackbone": "roberta", "GPT2Backbone": "gpt2"}
PACKAGES = ("keras_hub>", "keras_nlp>")  # registered_name prefixes of keras_hub's objects

# Canonical name inside a block -> h5 path inside keras_hub's TransformerEncoder/Decoder.
BLOCK = {
    "self_attention/query": "_self_attention_layer/query_dense",
    "self_attention/key": "_self_attention_layer/key_dense",
    "self_attention/value": "_self_attention_layer/value_dense",
    "self_attention/output": "_self_attention_layer/output_dense",
    "self_attention_norm": "_self_attention_layer_norm",
    "feed_forward/intermediate": "_feedforward_intermediate_dense",
    "feed_forward/output": "_feedforward_output_dense",
    "feed_forward_norm": "_feedforward_layer_norm",
}
VARS = {"kernel": "vars/0", "bias": "vars/1", "gamma": "vars/0", "beta": "vars/1"}
# Top-level layers (BERT's pooled_dense is `layers/dense`).
EMBEDDINGS = {
    "bert": {"embeddings/word": "layers/reversible_embedding/vars/0",
             "embeddings/position": "layers/position_embedding/vars/0",
             "embeddings/token_type": "layers/embedding/vars/0",
             "embeddings/norm/gamma": "layers/layer_normalization/vars/0",
             "embeddings/norm/beta": "layers/layer_normalization/vars/1"},
    "roberta": {"embeddings/word": "layers/token_and_position_embedding/token_embedding/vars/0",
                "embeddings/position":
                    "layers/token_and_position_embedding/position_embedding/vars/0",
                "embeddings/norm/gamma": "layers/layer_normalization/vars/0",
                "embeddings/norm/beta": "layers/layer_normalization/vars/1"},
    "gpt2": {"embeddings/word": "layers/reversible_embedding/vars/0",
             "embeddings/position": "layers/position_embedding/vars/0",
             "final_norm/gamma": "layers/layer_normalization/vars/0",
             "final_norm/beta": "layers/layer_normalization/vars/1"},
}
IGNORED = [(re.compile(r"^layers/dense/"),
            "pooler (pooled_dense, classification head input), not used for generation")]
ROBERTA_PADDING_ROWS = 2


def _block_group(family: str, i: int) -> str:
    kind = "transformer_decoder" if family == "gpt2" else "transformer_encoder"
    return f"layers/{kind}" + (f"_{i}" if i else "")


def _backbone(raw) -> str:
    """The keras_hub class a preset config.json names, else ""."""
    if not isinstance(raw, dict):
        return ""
    registered = str(raw.get("registered_name") or "")
    if registered.startswith(PACKAGES):
        return registered.split(">", 1)[1]
    if str(raw.get("module") or "").startswith(("keras_hub.", "keras_nlp.")):
        return str(raw.get("class_name") or "")
    return ""


def _arch(family: str, raw: dict) -> ArchSpec:
    c = raw["config"]
    positions = c.get("max_sequence_length", 1024 if family == "gpt2" else 512)
    fields = dict(vocab_size=c["vocabulary_size"], num_layers=c["num_layers"],
                  hidden_size=c["hidden_dim"], num_heads=c["num_heads"],
                  intermediate_size=c["intermediate_dim"])
    if family == "bert":
        return trained_architecture("bert", **fields, max_position_embeddings=positions,
                                    type_vocab_size=c.get("num_segments", 2),
                                    layer_norm_epsilon=1e-12, approximate_gelu=True)
    if family == "roberta":
        return trained_architecture("roberta", **fields, type_vocab_size=0,
                                    max_position_embeddings=positions + ROBERTA_PADDING_ROWS,
                                    layer_norm_epsilon=1e-5, approximate_gelu=False)
    return trained_architecture("gpt2", **fields, max_position_embeddings=positions,
                                type_vocab_size=0, layer_norm_epsilon=1e-5, approximate_gelu=True)


def _prepend_padding_rows(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((ROBERTA_PADDING_ROWS, x.shape[1]), x.dtype), x])


class KerasHubPresetReader(CheckpointReader):
    format_name = "keras_hub"
    description = "KerasHub preset (config.json + model.weights.h5)"
    ignore_patterns = IGNORED

    @classmethod
    def detect(cls, path):
        config = textfiles.join(path, CONFIG)
        if not (textfiles.isdir(path) and textfiles.isfile(config)) \
                or textfiles.getsize(config) > 2**20:
            return False
        try:
            with textfiles.open_file(config, "r", encoding="utf-8") as f:
                return _backbone(json.load(f)).endswith("Backbone")
        except (OSError, ValueError):
            return False

    def __init__(self, path):
        super().__init__(path)
        config_file = textfiles.join(path, CONFIG)
        raw, _ = read_config(config_file, "KerasHub config.json", lambda r: r)
        backbone = _backbone(raw)
        if backbone not in FAMILIES:
            raise CheckpointError(f"{config_file}: keras_hub backbone {backbone or '?'} is not "
                                  "supported; expected BertBackbone, RobertaBackbone or "
                                  "GPT2Backbone")
        self.family = FAMILIES[backbone]
        _, self.config = read_config(config_file, "KerasHub config.json",
                                     lambda r: _arch(self.family, r))
        self.weights_file = textfiles.join(path, WEIGHTS)
        if not textfiles.isfile(self.weights_file) and textfiles.isfile(
                textfiles.join(path, "model.weights.json")):
            raise CheckpointError(f"{self.weights_file}: missing; sharded presets "
                                  "(model.weights.json) are not supported")
        require_file(self.weights_file, "KerasHub weights file (save_to_preset writes it)")
        self._open_h5()
        self._table = self._name_table()
        assets = textfiles.join(path, "assets", "tokenizer")
        self.vocab_files = {key: textfiles.join(assets, name) for key, name in
                            (("vocab_txt", "vocabulary.txt"), ("vocab_json", "vocabulary.json"),
                             ("merges_txt", "merges.txt"))
                            if textfiles.isfile(textfiles.join(assets, name))}
        self.lowercase = self._lowercase(textfiles.join(path, "tokenizer.json"))

    def _open_h5(self):
        import h5py

        # h5py opens a local file: a gs:// preset must be copied down first.
        textfiles.local_only(self.weights_file, "reading HDF5 weights", CheckpointError)
        try:
            self._h5 = h5py.File(self.weights_file, "r")
        except OSError as e:
            raise CheckpointError(f"{self.weights_file}: not a readable HDF5 weights file "
                                  f"({str(e).splitlines()[0] if str(e) else 'OSError'})") from e
        self._shapes: Dict[str, Tuple[int, ...]] = {}

        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                if item.external or item.is_virtual:
                    raise CheckpointError(f"{self.weights_file}: variable '{name}' is stored "
                                          "outside the file (external or virtual); not read")
                self._shapes[name] = tuple(item.shape)

        self._h5.visititems(visit)

    def _name_table(self) -> Dict[str, Tuple[str, Pre]]:
        """Canonical name -> (h5 path, pre-transform); every path must be in the file."""
        table = {k: (v, None) for k, v in EMBEDDINGS[self.family].items()}
        if self.family == "roberta":
            table["embeddings/position"] = (table["embeddings/position"][0], (
                f"{ROBERTA_PADDING_ROWS} zero padding positions prepended (position i is read at "
                f"i + {ROBERTA_PADDING_ROWS})",
                _prepend_padding_rows))
        for i in range(self.config.num_layers):
            group = _block_group(self.family, i)
            layer = self._h5.get(group + "/vars")
            name = None if layer is None else layer.attrs.get("name")  # recent Keras writes it
            if name is not None and str(name) != f"transformer_layer_{i}":
                raise CheckpointError(f"{self.weights_file}: '{group}' is layer {str(name)!r}, "
                                      f"expected 'transformer_layer_{i}'")
            for canonical, sub in BLOCK.items():
                for kind in (("gamma", "beta") if canonical.endswith("norm")
                             else ("kernel", "bias")):
                    table[f"layer_{i}/{canonical}/{kind}"] = (f"{group}/{sub}/{VARS[kind]}", None)
        for canonical, (original, _) in table.items():
            if original not in self._shapes:
                raise CheckpointError(f"{self.weights_file}: no variable '{original}' (for "
                                      f"{canonical}); config.json says {self.config.num_layers} "
                                      f"{self.family} layers")
        return table

    @staticmethod
    def _lowercase(tokenizer_json: str):
        if not textfiles.isfile(tokenizer_json):
            return None
        raw, value = read_config(tokenizer_json, "KerasHub tokenizer.json",
                                 lambda r: dict(r.get("config") or {}).get("lowercase"))
        return None if value is None else bool(value)

    def variables(self):
        return dict(self._shapes)

    def read(self, name):
        dataset = self._h5[name]
        value = np.asarray(dataset[()])
        if str(dataset.attrs.get("dtype", "")) == "bfloat16":  # stored as 2-byte opaque
            import ml_dtypes

            value = value.view(ml_dtypes.bfloat16)
        return value.astype(np.float32)

    def canonical(self):
        return build_sources(self._table, self.config, self._shapes)
