"""google-research/bert TF1 checkpoints: bert_model.ckpt.* + bert_config.json + vocab.txt."""
import os
import re

from bert2bert import textfiles
from bert2bert.checkpoints.base import gelu_is_tanh, read_config, trained_architecture
from bert2bert.checkpoints.layout import HEAD_REASON, layer_table
from bert2bert.checkpoints.tf1 import TF1Reader, find_prefix, has_tf1_checkpoint

LAYER_NAMES = {
    "self_attention/query/kernel": "attention/self/query/kernel",
    "self_attention/query/bias": "attention/self/query/bias",
    "self_attention/key/kernel": "attention/self/key/kernel",
    "self_attention/key/bias": "attention/self/key/bias",
    "self_attention/value/kernel": "attention/self/value/kernel",
    "self_attention/value/bias": "attention/self/value/bias",
    "self_attention/output/kernel": "attention/output/dense/kernel",
    "self_attention/output/bias": "attention/output/dense/bias",
    "self_attention_norm/gamma": "attention/output/LayerNorm/gamma",
    "self_attention_norm/beta": "attention/output/LayerNorm/beta",
    "feed_forward/intermediate/kernel": "intermediate/dense/kernel",
    "feed_forward/intermediate/bias": "intermediate/dense/bias",
    "feed_forward/output/kernel": "output/dense/kernel",
    "feed_forward/output/bias": "output/dense/bias",
    "feed_forward_norm/gamma": "output/LayerNorm/gamma",
    "feed_forward_norm/beta": "output/LayerNorm/beta",
}

TABLE = {
    "embeddings/word": ("bert/embeddings/word_embeddings", None),
    "embeddings/position": ("bert/embeddings/position_embeddings", None),
    "embeddings/token_type": ("bert/embeddings/token_type_embeddings", None),
    "embeddings/norm/gamma": ("bert/embeddings/LayerNorm/gamma", None),
    "embeddings/norm/beta": ("bert/embeddings/LayerNorm/beta", None),
    **layer_table("bert/encoder/layer_{i}/", LAYER_NAMES),
    "head/transform/kernel": ("cls/predictions/transform/dense/kernel", None),
    "head/transform/bias": ("cls/predictions/transform/dense/bias", None),
    "head/norm/gamma": ("cls/predictions/transform/LayerNorm/gamma", None),
    "head/norm/beta": ("cls/predictions/transform/LayerNorm/beta", None),
    "head/bias": ("cls/predictions/output_bias", None),
}

IGNORED = [
    (re.compile(r"^bert/pooler/"), "pooler (classification head input), not used for generation"),
    (re.compile(r"^cls/predictions/"), HEAD_REASON),
    (re.compile(r"^cls/seq_relationship/"), "next-sentence head, not used for generation"),
]


class BertTF1Reader(TF1Reader):
    format_name = "bert_tf1"
    description = "google-research/bert TF1 checkpoint"
    family = "bert"
    TABLE = TABLE
    MARKER = "bert/embeddings/word_embeddings"
    OTHER_MARKERS = {"model/wte": "GPT-2"}
    ignore_patterns = IGNORED

    @classmethod
    def detect(cls, path):
        return has_tf1_checkpoint(path, "bert_config.json")

    @staticmethod
    def _arch(raw):
        return trained_architecture(
            "bert",
            vocab_size=raw["vocab_size"],
            hidden_size=raw["hidden_size"],
            num_layers=raw["num_hidden_layers"],
            num_heads=raw["num_attention_heads"],
            intermediate_size=raw["intermediate_size"],
            max_position_embeddings=raw["max_position_embeddings"],
            type_vocab_size=raw.get("type_vocab_size", 2),
            layer_norm_epsilon=1e-12,
            # google-research's `gelu` is the tanh approximation.
            approximate_gelu=gelu_is_tanh(raw.get("hidden_act", "gelu"), "bert_config.json",
                                          plain_gelu_is_tanh=True),
        )

    def __init__(self, path):
        super().__init__(path)
        self.prefix = find_prefix(path)
        directory = os.path.dirname(self.prefix)
        _, self.config = read_config(textfiles.join(directory, "bert_config.json"),
                                     "bert_config.json", self._arch)
        vocab = textfiles.join(directory, "vocab.txt")
        self.vocab_files = {"vocab_txt": vocab} if textfiles.isfile(vocab) else {}
        # No casing flag in the format: "uncased" in the path means lower-case + strip accents.
        self.lowercase = "uncased" in textfiles.absolute(self.prefix).lower()
        self._open_weights()
