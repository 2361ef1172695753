"""The paper's model grid as plain data (Rothe et al. 2020, Table 1).

Nothing here builds a model: this module only says, for every variant, which
architecture family and vocabulary each side uses, which side is warm-started
and what is shared. `bert2bert.models` turns these facts into Keras models.

Families:
    bert     post-LayerNorm blocks, tanh GELU, epsilon 1e-12, token types.
    roberta  BERT blocks with exact GELU, epsilon 1e-5, positions offset by 2.
    gpt2     pre-LayerNorm blocks, tanh GELU, epsilon 1e-5, a final LayerNorm.
"""
import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Family:
    """Architecture facts of one checkpoint family."""

    name: str
    vocab_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_epsilon: float
    approximate_gelu: bool
    norm_first: bool
    position_offset: int
    final_layer_norm: bool
    embedding_layer_norm: bool
    # An encoder input in this vocabulary is wrapped in start/end tokens: [CLS] x [SEP], <s> x </s>.
    wraps_source: bool = False


FAMILIES = {
    "bert": Family("bert", 30522, 512, 2, 1e-12, True, False, 0, False, True, wraps_source=True),
    "roberta": Family("roberta", 50265, 514, 1, 1e-5, False, False, 2, False, True,
                      wraps_source=True),
    "gpt2": Family("gpt2", 50257, 1024, 0, 1e-5, True, True, 0, True, False),
}


@dataclasses.dataclass(frozen=True)
class Size:
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int


SIZES = {
    "base": Size(12, 768, 12, 3072),
    "large": Size(24, 1024, 16, 4096),
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
