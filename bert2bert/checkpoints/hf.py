"""Hugging Face directories (config.json + model.safetensors) for BERT, RoBERTa and GPT-2.

PyTorch `Linear` weights are stored [out, in] and are transposed; GPT-2's
`Conv1D` weights are already [in, out]. A leading model prefix such as
`bert.`, `roberta.` or `transformer.` (task models) is recognised.
"""
import json
import re

import numpy as np

from bert2bert import textfiles
from bert2bert.checkpoints.base import (
    CheckpointError, CheckpointReader, gelu_is_tanh, read_config, require_file,
    trained_architecture)
from bert2bert.checkpoints.gpt2_openai import gpt2_layer_names
from bert2bert.checkpoints.layout import HEAD_REASON, build_sources, layer_table, transpose
from bert2bert.spec import ArchSpec

BERT_LAYER = {
    "self_attention/query": "attention.self.query",
    "self_attention/key": "attention.self.key",
    "self_attention/value": "attention.self.value",
    "self_attention/output": "attention.output.dense",
    "feed_forward/intermediate": "intermediate.dense",
    "feed_forward/output": "output.dense",
}
BERT_NORMS = {"self_attention_norm": "attention.output.LayerNorm",
              "feed_forward_norm": "output.LayerNorm"}
MARKERS = {"bert": "embeddings.word_embeddings.weight", "roberta": "embeddings.word_embeddings.weight",
           "gpt2": "wte.weight"}
IGNORED = [
    (re.compile(r"(^|\.)pooler\."), "pooler (classification head input), not used for generation"),
    (re.compile(r"^(cls|lm_head)\."), HEAD_REASON),
    (re.compile(r"position_ids$"), "buffer of position ids, not a weight"),
    (re.compile(r"\.attn\.(masked_)?bias$"), "causal-mask buffer, not a weight"),
]


# A decoder's cross-attention (BertLMHeadModel, RobertaForCausalLM, BertGenerationDecoder).
CROSS_LAYER = {
    "cross_attention/query": "crossattention.self.query",
    "cross_attention/key": "crossattention.self.key",
    "cross_attention/value": "crossattention.self.value",
    "cross_attention/output": "crossattention.output.dense",
}


def _bert_table(prefix: str, norm_names, stored, head_prefix: str = ""):
    """BERT-layout names under `prefix` (`bert.`, `encoder.`, `decoder.bert.`, ...), with the
    cross-attention where a decoder has it and the head found under `head_prefix`."""
    gamma, beta = norm_names
    names, pre = {}, {}
    for canonical, original in {**BERT_LAYER, **CROSS_LAYER}.items():
        names[f"{canonical}/kernel"] = f"{original}.weight"
        names[f"{canonical}/bias"] = f"{original}.bias"
        pre[f"{canonical}/kernel"] = transpose()
    norms = {**BERT_NORMS, "cross_attention_norm": "crossattention.output.LayerNorm"}
    for canonical, original in norms.items():
        names[f"{canonical}/gamma"] = f"{original}.{gamma}"
        names[f"{canonical}/beta"] = f"{original}.{beta}"
    emb = prefix + "embeddings."
    return {
        "embeddings/word": (emb + "word_embeddings.weight", None),
        "embeddings/position": (emb + "position_embeddings.weight", None),
        "embeddings/token_type": (emb + "token_type_embeddings.weight", None),
        "embeddings/norm/gamma": (emb + f"LayerNorm.{gamma}", None),
        "embeddings/norm/beta": (emb + f"LayerNorm.{beta}", None),
        **layer_table(prefix + "encoder.layer.{i}.", names, pre, cross=True),
        **_head_table(stored, gamma, beta, head_prefix),
    }


def _head_table(stored, gamma: str, beta: str, head_prefix: str = ""):
    """BERT's `cls.predictions.*`, RoBERTa's `lm_head.*` (or BertGeneration's `lm_head.bias`
    alone), whichever `stored` has under `head_prefix` (the head sits beside the model prefix,
    not under it); empty for a checkpoint without a head."""
    if any(n.startswith(head_prefix + "lm_head.") for n in stored):
        head, dense, norm = head_prefix + "lm_head.", "dense", "layer_norm"
    else:
        head, dense, norm = (head_prefix + "cls.predictions.", "transform.dense",
                             "transform.LayerNorm")
    return {
        "head/transform/kernel": (f"{head}{dense}.weight", transpose()),
        "head/transform/bias": (f"{head}{dense}.bias", None),
        "head/norm/gamma": (f"{head}{norm}.{gamma}", None),
        "head/norm/beta": (f"{head}{norm}.{beta}", None),
        "head/bias": (f"{head}bias", None),
    }


def _gpt2_cross_attention():
    """A GPT2LMHeadModel decoder's cross-attention (`add_cross_attention`): the query from
    `crossattention.q_attn`, key and value fused in `crossattention.c_attn` ([H, 2H]
    Conv1D), `crossattention.c_proj`, and the pre-norm `ln_cross_attn`."""
    names = {"cross_attention/query/kernel": "crossattention.q_attn.weight",
             "cross_attention/query/bias": "crossattention.q_attn.bias",
             "cross_attention/output/kernel": "crossattention.c_proj.weight",
             "cross_attention/output/bias": "crossattention.c_proj.bias",
             "cross_attention_norm/gamma": "ln_cross_attn.weight",
             "cross_attention_norm/beta": "ln_cross_attn.bias"}
    pre = {}
    for i, part in enumerate(("key", "value")):
        for kind in ("kernel", "bias"):
            canonical = f"cross_attention/{part}/{kind}"
            names[canonical] = f"crossattention.c_attn.{'weight' if kind == 'kernel' else 'bias'}"
            pre[canonical] = (f"part {i} of 2 of c_attn",
                              lambda x, i=i: np.split(np.asarray(x), 2, axis=-1)[i])
    return names, pre


def _gpt2_table(prefix: str, cross: bool = False):
    names, pre = gpt2_layer_names("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj",
                                  "ln_1", "ln_2", "weight", "bias", "weight", "bias",
                                  squeeze=False)
    names = {k: v.replace("/", ".") for k, v in names.items()}
    if cross:
        cross_names, cross_pre = _gpt2_cross_attention()
        names, pre = {**names, **cross_names}, {**pre, **cross_pre}
    return {
        "embeddings/word": (prefix + "wte.weight", None),
        "embeddings/position": (prefix + "wpe.weight", None),
        **layer_table(prefix + "h.{i}.", names, pre, cross=cross),
        "final_norm/gamma": (prefix + "ln_f.weight", None),
        "final_norm/beta": (prefix + "ln_f.bias", None),
    }


def _arch(family: str, raw: dict) -> ArchSpec:
    if family == "gpt2":
        hidden = raw["n_embd"]
        return trained_architecture(
            "gpt2",
            vocab_size=raw["vocab_size"], hidden_size=hidden, num_layers=raw["n_layer"],
            num_heads=raw["n_head"], intermediate_size=raw.get("n_inner") or 4 * hidden,
            max_position_embeddings=raw["n_positions"], type_vocab_size=0,
            layer_norm_epsilon=raw.get("layer_norm_epsilon", 1e-5),
            approximate_gelu=gelu_is_tanh(raw.get("activation_function", "gelu_new"),
                                          "config.json", plain_gelu_is_tanh=False))
    return trained_architecture(
        family,
        vocab_size=raw["vocab_size"], hidden_size=raw["hidden_size"],
        num_layers=raw["num_hidden_layers"], num_heads=raw["num_attention_heads"],
        intermediate_size=raw["intermediate_size"],
        max_position_embeddings=raw["max_position_embeddings"],
        type_vocab_size=raw.get("type_vocab_size", 2),
        layer_norm_epsilon=raw.get("layer_norm_eps", 1e-12),
        approximate_gelu=gelu_is_tanh(raw.get("hidden_act", "gelu"), "config.json",
                                      plain_gelu_is_tanh=False))


def safetensors_file(path: str) -> str:
    """`path/model.safetensors`; a directory with only a PyTorch pickle is a one-line error."""
    weights = textfiles.join(path, "model.safetensors")
    if not textfiles.isfile(weights):
        if textfiles.isfile(textfiles.join(path, "pytorch_model.bin")):
            raise CheckpointError(
                f"{path}/pytorch_model.bin: PyTorch pickles cannot be read without PyTorch; "
                "convert the directory to model.safetensors (transformers: "
                "model.save_pretrained(dir, safe_serialization=True))")
        require_file(weights, "model.safetensors")
    return weights


def tokenizer_lowercase(path: str):
    """`do_lower_case` of `path/tokenizer_config.json`, or None when it does not say."""
    tok_config = textfiles.join(path, "tokenizer_config.json")
    if not textfiles.isfile(tok_config):
        return None
    _, value = read_config(tok_config, "Hugging Face tokenizer_config.json",
                           lambda r: dict(r).get("do_lower_case"))
    return None if value is None else bool(value)


def open_safetensors(weights_file: str):
    """(open file, {name: shape}) of a safetensors file, or a one-line CheckpointError."""
    from safetensors import safe_open

    # safetensors memory-maps a local file: a gs:// checkpoint must be copied down first.
    textfiles.local_only(weights_file, "reading safetensors", CheckpointError)
    try:
        handle = safe_open(weights_file, framework="np")
        return handle, {n: tuple(handle.get_slice(n).get_shape()) for n in handle.keys()}
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"{weights_file}: not a readable safetensors file "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                              ) from e


class HuggingFaceReader(CheckpointReader):
    format_name = "hf"
    description = "Hugging Face directory (config.json + model.safetensors)"
    ignore_patterns = IGNORED

    @classmethod
    def detect(cls, path):
        return textfiles.isdir(path) and textfiles.isfile(textfiles.join(path, "config.json")) and (
            textfiles.isfile(textfiles.join(path, "model.safetensors"))
            or textfiles.isfile(textfiles.join(path, "pytorch_model.bin")))

    def __init__(self, path):
        super().__init__(path)
        config_file = textfiles.join(path, "config.json")
        self.weights_file = safetensors_file(path)
        raw, _ = read_config(config_file, "Hugging Face config.json", lambda r: r)
        self.family = raw.get("model_type")
        if self.family == "encoder-decoder":
            raise CheckpointError(f"{config_file}: a whole EncoderDecoderModel; open it with "
                                  "format hf_encoder_decoder (detected without --format)")
        if self.family not in MARKERS:
            raise CheckpointError(f"{config_file}: model_type {self.family!r} is not supported; "
                                  "expected bert, roberta or gpt2")
        _, self.config = read_config(config_file, "Hugging Face config.json",
                                     lambda r: _arch(self.family, r))
        self._open_safetensors()
        marker = MARKERS[self.family]
        prefixes = [n[: -len(marker)] for n in self._shapes if n.endswith(marker)]
        if not prefixes:
            raise CheckpointError(f"{self.weights_file}: no variable '{marker}': not the weights "
                                  f"of a {self.family} model")
        self.prefix = prefixes[0]
        if self.family == "gpt2":
            self._table = _gpt2_table(self.prefix)
        else:
            norm = (("weight", "bias") if f"{self.prefix}embeddings.LayerNorm.weight" in self._shapes
                    else ("gamma", "beta"))
            self._table = _bert_table(self.prefix, norm, self._shapes)
        self.vocab_files = {key: textfiles.join(path, name) for key, name in
                            (("vocab_txt", "vocab.txt"), ("vocab_json", "vocab.json"),
                             ("merges_txt", "merges.txt"), ("tokenizer_json", "tokenizer.json"),
                             ("spm_model", "sentencepiece.bpe.model"))
                            if textfiles.isfile(textfiles.join(path, name))}
        self.lowercase = self._lowercase(path)

    def _open_safetensors(self):
        self._file, self._shapes = open_safetensors(self.weights_file)

    def _lowercase(self, path):
        if self.family != "bert":
            return None
        value = tokenizer_lowercase(path)
        return value if value is not None else "uncased" in textfiles.absolute(path).lower()

    def variables(self):
        return dict(self._shapes)

    def read(self, name):
        return np.asarray(self._file.get_tensor(name), dtype=np.float32)

    def canonical(self):
        return build_sources(self._table, self.config, self._shapes)
