"""The paper's model grid as plain data (Rothe et al. 2020, Table 1).

Nothing here builds a model: this module only says, for every variant, which
architecture family and vocabulary each side uses, which side is warm-started
and what is shared, with each family's `ArchSpec` (`bert2bert.spec`). The factory
(`bert2bert.factory`) turns these facts into a `ModelSpec`, the models into Keras.

Families:
    bert     post-LayerNorm blocks, tanh GELU, epsilon 1e-12, token types.
    roberta  BERT blocks with exact GELU, epsilon 1e-5, positions offset by 2.
    gpt2     pre-LayerNorm blocks, tanh GELU, epsilon 1e-5, a final LayerNorm.
"""
import dataclasses
from typing import Optional

from bert2bert.spec import ArchSpec


# Each family at the base size, as its public checkpoints are (bert-base-uncased, roberta-base,
# GPT-2 small). Sizes change only the four shape fields.
FAMILIES = {
    "bert": ArchSpec(family="bert", vocab="bert", vocab_size=30522, num_layers=12,
                     hidden_size=768, num_heads=12, intermediate_size=3072,
                     max_position_embeddings=512, type_vocab_size=2, layer_norm_epsilon=1e-12,
                     approximate_gelu=True),
    "roberta": ArchSpec(family="roberta", vocab="roberta", vocab_size=50265, num_layers=12,
                        hidden_size=768, num_heads=12, intermediate_size=3072,
                        max_position_embeddings=514, type_vocab_size=1, position_offset=2,
                        layer_norm_epsilon=1e-5, approximate_gelu=False),
    "gpt2": ArchSpec(family="gpt2", vocab="gpt2", vocab_size=50257, num_layers=12,
                     hidden_size=768, num_heads=12, intermediate_size=3072,
                     max_position_embeddings=1024, type_vocab_size=0, layer_norm_epsilon=1e-5,
                     approximate_gelu=True, norm_first=True, embedding_layer_norm=False,
                     final_layer_norm=True),
}

# An encoder input in this vocabulary is wrapped in start/end tokens: [CLS] x [SEP], <s> x </s>.
WRAPS_SOURCE = {"bert": True, "roberta": True, "gpt2": False}

SIZES = {
    "base": dict(num_layers=12, hidden_size=768, num_heads=12, intermediate_size=3072),
    "large": dict(num_layers=24, hidden_size=1024, num_heads=16, intermediate_size=4096),
}

# How encoder and decoder relate.
#   none        two separate stacks, two embedding matrices.
#   embeddings  one word-embedding matrix for both sides (same vocabulary);
#               the decoder's output projection is tied to it as well.
#   all         one stack of weights used by both sides; only the decoder's
#               cross-attention is its own (bertShare, robertaShare).
SHARING = ("none", "embeddings", "all")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the paper's Table 1."""

    name: str
    encoder_family: Optional[str]  # None: decoder-only, the source is a prefix
    decoder_family: str
    encoder_vocab: Optional[str]
    decoder_vocab: str
    encoder_warm: bool
    decoder_warm: bool
    share: str
    paper_total_params_m: int  # base size, millions, as printed in the paper
    description: str

    @property
    def decoder_only(self) -> bool:
        """No encoder: the source is a prefix of the decoder's sequence (`gpt`)."""
        return self.encoder_family is None


VARIANTS = {
    v.name: v
    for v in [
        Variant("rnd2rnd", "bert", "bert", "bert", "bert", False, False,
                "embeddings", 221, "random BERT encoder and decoder"),
        Variant("bert2rnd", "bert", "bert", "bert", "bert", True, False,
                "embeddings", 221, "BERT encoder, random BERT decoder"),
        Variant("rnd2bert", "bert", "bert", "bert", "bert", False, True,
                "embeddings", 221, "random BERT encoder, BERT decoder"),
        Variant("bert2bert", "bert", "bert", "bert", "bert", True, True,
                "embeddings", 221, "BERT encoder and BERT decoder"),
        Variant("bertShare", "bert", "bert", "bert", "bert", True, True,
                "all", 136, "BERT encoder and decoder with one set of weights"),
        Variant("robertaShare", "roberta", "roberta", "roberta", "roberta", True, True,
                "all", 152, "RoBERTa encoder and decoder with one set of weights"),
        Variant("gpt", None, "gpt2", None, "gpt2", False, True,
                "none", 125, "GPT-2 decoder only; the source is a prefix"),
        Variant("rnd2gpt", "bert", "gpt2", "gpt2", "gpt2", False, True,
                "embeddings", 238, "random encoder over GPT-2's vocabulary, GPT-2 decoder"),
        Variant("bert2gpt", "bert", "gpt2", "bert", "gpt2", True, True,
                "none", 260, "BERT encoder (BERT vocabulary), GPT-2 decoder (GPT-2 vocabulary)"),
        Variant("roberta2gpt", "roberta", "gpt2", "roberta", "gpt2", True, True,
                "none", 276, "RoBERTa encoder, GPT-2 decoder: one BPE, two embedding matrices"),
    ]
}

VARIANT_NAMES = tuple(VARIANTS)
SIZE_NAMES = tuple(SIZES)
