"""The architecture of a model in one place: `ArchSpec` (one stack) and `ModelSpec` (a variant).

Every architecture fact is a field of `ArchSpec`, documented and range-checked here. The grid
builds each family's spec with keyword arguments (`bert2bert.grid`), checkpoint readers return
one (`reader.config`), and config overrides are a partial spec applied with
`dataclasses.replace` (`ArchSpec.override`). The Keras models see a `ModelSpec` only.

Example:
    >>> bert = ArchSpec(family="bert", vocab="bert", vocab_size=30522, num_layers=12,
    ...                 hidden_size=768, num_heads=12, intermediate_size=3072,
    ...                 max_position_embeddings=512, type_vocab_size=2,
    ...                 layer_norm_epsilon=1e-12, approximate_gelu=True)
    >>> bert.override(num_layers=3, dropout=None).num_layers   # None keeps a field
    3
    >>> bert.head_size
    64
"""
import dataclasses
from typing import Any, Dict, Optional, Tuple

from bert2bert.errors import Bert2BertError
from bert2bert.ranges import AT_LEAST_0, AT_LEAST_1, FRACTION, POSITIVE, Range


class SpecError(Bert2BertError, ValueError):
    """An architecture that cannot be built; the message names the field."""


def _field(doc: str, valid: Optional[Range] = None, layout: bool = False,
           trained: bool = False, **kwargs):
    """A spec field with its one-line documentation, its valid range, whether it is a layout
    fact of the family (not overridable from a config) and whether a checkpoint fixes it
    (`trained`: the architecture the weights were trained with)."""
    return dataclasses.field(
        metadata={"doc": doc, "valid": valid, "layout": layout, "trained": trained}, **kwargs)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchSpec:
    """Everything needed to build one Transformer stack (an encoder or a decoder)."""

    family: str = _field("block layout: bert | roberta | gpt2", layout=True)
    vocab: str = _field("vocabulary (tokenizer) family: bert | roberta | gpt2", layout=True)
    vocab_size: int = _field("rows of the word-embedding matrix", AT_LEAST_1, trained=True)
    num_layers: int = _field("Transformer blocks", AT_LEAST_1, trained=True)
    hidden_size: int = _field("width of the hidden states", AT_LEAST_1, trained=True)
    num_heads: int = _field("attention heads (hidden_size must divide by it)", AT_LEAST_1,
                            trained=True)
    intermediate_size: int = _field("inner width of the feed-forward sub-block", AT_LEAST_1,
                                    trained=True)
    max_position_embeddings: int = _field("rows of the position table", AT_LEAST_1, trained=True)
    type_vocab_size: int = _field("rows of the token-type table; 0 for none", AT_LEAST_0,
                                  trained=True)
    position_offset: int = _field("added to position ids (2 for RoBERTa)", layout=True,
                                  default=0)
    layer_norm_epsilon: float = _field("epsilon of every LayerNorm", POSITIVE, trained=True)
    approximate_gelu: bool = _field("tanh GELU (BERT, GPT-2) or exact erf GELU (RoBERTa)",
                                    trained=True)
    norm_first: bool = _field("pre-LayerNorm blocks (GPT-2) instead of post-LayerNorm (BERT)",
                              layout=True, default=False)
    embedding_layer_norm: bool = _field("a LayerNorm after the embedding sum (BERT, RoBERTa)",
                                        layout=True, default=True)
    final_layer_norm: bool = _field("a LayerNorm after the last block (GPT-2)", layout=True,
                                    default=False)
    dropout: float = _field("dropout on embeddings and sub-block outputs", FRACTION,
                            default=0.1)
    attention_dropout: float = _field("dropout on attention probabilities", FRACTION,
                                      default=0.1)
    initializer_range: float = _field("stddev of the truncated-normal initialisers", POSITIVE,
                                      default=0.02)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    def override(self, **values) -> "ArchSpec":
        """This spec with the non-None `values` replaced, checked (`check`)."""
        values = {k: v for k, v in values.items() if v is not None}
        unknown = set(values) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise SpecError(f"architecture has no field(s) {sorted(unknown)}; fields: "
                            + ", ".join(f.name for f in dataclasses.fields(self)))
        return dataclasses.replace(self, **values).check()

    def check(self, where: str = "") -> "ArchSpec":
        """Raises `SpecError` naming the first field out of range; returns self."""
        where = f"{where}: " if where else ""
        for f in dataclasses.fields(self):
            valid, value = f.metadata["valid"], getattr(self, f.name)
            if valid is not None and value not in valid:
                raise SpecError(f"{where}{f.name} is {value!r}; valid range: {valid}")
        if self.hidden_size % self.num_heads:
            raise SpecError(f"{where}hidden_size {self.hidden_size} is not divisible by "
                            f"num_heads {self.num_heads}")
        return self

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def overridable_fields() -> Tuple[dataclasses.Field, ...]:
    """The fields a config may set per side (all but the family's layout facts)."""
    return tuple(f for f in dataclasses.fields(ArchSpec) if not f.metadata["layout"])


def trained_fields() -> Tuple[str, ...]:
    """The fields a checkpoint fixes (a warm-started side takes them from its checkpoint)."""
    return tuple(f.name for f in dataclasses.fields(ArchSpec) if f.metadata["trained"])


SHARINGS = ("none", "embeddings", "all")
CROSS_ATTENTION_INITS = ("random", "self_attention")
OUTPUT_HEADS = ("tied", "bias", "lm_head")
DECODER_STARTS = ("start", "mask")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A model of the grid: its stacks, what they share and how new parts start.

    Attributes:
        variant: the grid's name for it (bert2bert, gpt, ...).
        encoder: the encoder's spec; None for a decoder-only model (the source is a prefix).
        decoder: the decoder's spec.
        share: "none" (two stacks), "embeddings" (one word-embedding matrix, also the output
            projection) or "all" (one set of weights; only cross-attention is the decoder's).
        encoder_warm, decoder_warm: whether each side starts from a pre-trained checkpoint.
        cross_attention_init: "random" (the paper) or "self_attention" (a copy of the same
            layer's pre-trained self-attention).
        output_head: "tied" (the paper), "bias" (tied plus an output bias: the released
            models) or "lm_head" (BERT's masked-LM head before it).
        decoder_start: "start" (the paper: the vocabulary's start token, [CLS], at decoder
            position 0) or "mask" (its mask token, and decoder positions numbered from 1, so
            that decoder position p holds the word the source holds at p after its start
            token: the first output word gets the copy path every later word has; README
            "The first output token").
    """

    variant: str
    encoder: Optional[ArchSpec]
    decoder: ArchSpec
    share: str = "none"
    encoder_warm: bool = False
    decoder_warm: bool = False
    cross_attention_init: str = "random"
    output_head: str = "tied"
    decoder_start: str = "start"

    @property
    def decoder_only(self) -> bool:
        """True for a prefix language model (`gpt`): no encoder, the source is a prefix."""
        return self.encoder is None

    def side(self, name: str) -> Optional[ArchSpec]:
        return self.encoder if name == "encoder" else self.decoder

    def warm(self, name: str) -> bool:
        return self.encoder_warm if name == "encoder" else self.decoder_warm

    @property
    def decoder_position_shift(self) -> int:
        """Added to the decoder's position ids: 1 with `decoder_start` "mask", else 0."""
        return int(self.decoder_start == "mask")

    def start_id(self, special_tokens) -> int:
        """The id the decoder starts from, in the target vocabulary's `special_tokens`
        (`text.SpecialTokens`); raises `SpecError` when "mask" meets a vocabulary without one."""
        if self.decoder_start == "start":
            return int(special_tokens.start_id)
        if special_tokens.mask_id is None:
            raise SpecError(f"model.decoder_start is 'mask' but the target vocabulary of "
                            f"{self.variant} has no mask token; use decoder_start: start")
        return int(special_tokens.mask_id)

    def check(self) -> "ModelSpec":
        """Raises `SpecError` for stacks that cannot be shared or a head that cannot exist."""
        for name, value, valid in (("share", self.share, SHARINGS),
                                   ("cross_attention_init", self.cross_attention_init,
                                    CROSS_ATTENTION_INITS),
                                   ("output_head", self.output_head, OUTPUT_HEADS),
                                   ("decoder_start", self.decoder_start, DECODER_STARTS)):
            if value not in valid:
                raise SpecError(f"{self.variant}: {name} is {value!r}; valid: {valid}")
        enc, dec = self.encoder, self.decoder
        for side, spec in (("encoder", enc), ("decoder", dec)):
            if spec is not None:
                spec.check(f"{self.variant} {side}")
        if enc is None and self.share != "none":
            raise SpecError(f"{self.variant}: a decoder-only model shares nothing "
                            f"(share is {self.share!r})")
        if self.share == "embeddings" and (enc.vocab_size, enc.hidden_size) != (
                dec.vocab_size, dec.hidden_size):
            raise SpecError(
                f"{self.variant} shares one word-embedding matrix, so encoder and decoder need "
                f"the same vocab_size and hidden_size; got {enc.vocab_size}x{enc.hidden_size} "
                f"and {dec.vocab_size}x{dec.hidden_size}")
        if self.share == "all":
            fields = ("family", "vocab_size", "num_layers", "hidden_size", "num_heads",
                      "intermediate_size", "max_position_embeddings")
            diff = [f for f in fields if getattr(enc, f) != getattr(dec, f)]
            if diff:
                raise SpecError(
                    f"{self.variant} uses one set of weights for encoder and decoder, so these "
                    "must agree: " + ", ".join(
                        f"{f} ({getattr(enc, f)} vs {getattr(dec, f)})" for f in diff))
        if self.decoder_start == "mask" and (enc is None or dec.vocab == "gpt2"):
            raise SpecError(f"decoder_start: mask is for a decoder reading an encoder's source "
                            f"with a BERT or RoBERTa vocabulary; {self.variant} "
                            + ("has no encoder" if enc is None else "writes GPT-2's, which has "
                               "no mask token") + "; use decoder_start: start")
        if self.output_head != "tied" and dec.family == "gpt2":
            raise SpecError(f"output_head={self.output_head}: the decoder of {self.variant} is "
                            "GPT-2, which has no masked-LM head or output bias; use 'tied'")
        return self

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelSpec":
        """Inverse of `to_dict` (a saved model's `get_config`)."""
        data = dict(data)
        for side in ("encoder", "decoder"):
            if data.get(side) is not None:
                data[side] = ArchSpec(**data[side])
        return cls(**data).check()
