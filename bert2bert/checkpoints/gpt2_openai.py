"""OpenAI GPT-2 TF1 checkpoints: model.ckpt.* + hparams.json + encoder.json + vocab.bpe."""
import os

import numpy as np

from bert2bert import textfiles
from bert2bert.checkpoints.base import read_config, trained_architecture
from bert2bert.checkpoints.layout import layer_table
from bert2bert.checkpoints.tf1 import TF1Reader, find_prefix, has_tf1_checkpoint


def qkv_part(index: int, squeeze: bool):
    """Takes part `index` (0 q, 1 k, 2 v) of GPT-2's fused c_attn weight or bias."""
    def fn(x):
        x = np.asarray(x)
        if squeeze and x.ndim == 3:
            x = x[0]
        return np.split(x, 3, axis=-1)[index]
    return fn


def squeeze_conv(x):
    """GPT-2's TF1 1x1 convolution weights [1, in, out] -> [in, out]."""
    x = np.asarray(x)
    return x[0] if x.ndim == 3 else x


def gpt2_layer_names(attn: str, proj: str, fc: str, mlp_proj: str, ln1: str, ln2: str,
                     gamma: str, beta: str, weight: str, bias: str, squeeze: bool):
    """Name table and pre-transforms for one GPT-2 block, in either naming scheme."""
    names, pre = {}, {}
    for i, part in enumerate(("query", "key", "value")):
        names[f"self_attention/{part}/kernel"] = f"{attn}/{weight}"
        names[f"self_attention/{part}/bias"] = f"{attn}/{bias}"
        pre[f"self_attention/{part}/kernel"] = (f"part {i} of 3 of c_attn", qkv_part(i, squeeze))
        pre[f"self_attention/{part}/bias"] = (f"part {i} of 3 of c_attn", qkv_part(i, squeeze))
    for canonical, original in (("self_attention/output", proj),
                                ("feed_forward/intermediate", fc),
                                ("feed_forward/output", mlp_proj)):
        names[f"{canonical}/kernel"] = f"{original}/{weight}"
        names[f"{canonical}/bias"] = f"{original}/{bias}"
        if squeeze:
            pre[f"{canonical}/kernel"] = ("squeeze [1, in, out]", squeeze_conv)
    for canonical, original in (("self_attention_norm", ln1), ("feed_forward_norm", ln2)):
        names[f"{canonical}/gamma"] = f"{original}/{gamma}"
        names[f"{canonical}/beta"] = f"{original}/{beta}"
    return names, pre


NAMES, PRE = gpt2_layer_names("attn/c_attn", "attn/c_proj", "mlp/c_fc", "mlp/c_proj",
                              "ln_1", "ln_2", "g", "b", "w", "b", squeeze=True)
TABLE = {
    "embeddings/word": ("model/wte", None),
    "embeddings/position": ("model/wpe", None),
    **layer_table("model/h{i}/", NAMES, PRE),
    "final_norm/gamma": ("model/ln_f/g", None),
    "final_norm/beta": ("model/ln_f/b", None),
}

class Gpt2OpenAIReader(TF1Reader):
    format_name = "gpt2_tf1"
    description = "OpenAI GPT-2 TF1 checkpoint"
    family = "gpt2"
    TABLE = TABLE
    MARKER = "model/wte"
    OTHER_MARKERS = {"bert/embeddings/word_embeddings": "BERT"}

    @classmethod
    def detect(cls, path):
        return has_tf1_checkpoint(path, "hparams.json")

    @staticmethod
    def _arch(h):
        return trained_architecture(
            "gpt2",
            vocab_size=h["n_vocab"], hidden_size=h["n_embd"], num_layers=h["n_layer"],
            num_heads=h["n_head"], intermediate_size=4 * h["n_embd"],
            max_position_embeddings=h["n_ctx"], type_vocab_size=0,
            layer_norm_epsilon=1e-5, approximate_gelu=True)

    def __init__(self, path):
        super().__init__(path)
        self.prefix = find_prefix(path)
        directory = os.path.dirname(self.prefix)
        _, self.config = read_config(textfiles.join(directory, "hparams.json"),
                                     "GPT-2 hparams.json",
                                     self._arch)
        self.vocab_files = {k: textfiles.join(directory, f) for k, f in
                            (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"))
                            if textfiles.isfile(textfiles.join(directory, f))}
        self._open_weights()
