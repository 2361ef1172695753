"""Resolve a `ModelConfig` into the exact shape of each stack.

The grid (`bert2bert.grid`) says which family each side of a variant has; the
config says the size and any overrides. `resolve` combines them into
`StackSpec`s, the only thing the layers need.
"""
import dataclasses
from typing import Optional

from bert2bert import grid
from bert2bert.config import ConfigError, ModelConfig


@dataclasses.dataclass(frozen=True)
class StackSpec:
    """Everything needed to build one Transformer stack."""

    family: str  # architecture: bert | roberta | gpt2
    vocab: str  # vocabulary family: bert | roberta | gpt2
    warm: bool  # warm-started from a checkpoint (else random)
    vocab_size: int
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    position_offset: int
    layer_norm_epsilon: float
    approximate_gelu: bool
    norm_first: bool
    embedding_layer_norm: bool
    final_layer_norm: bool
    dropout: float
    attention_dropout: float
    initializer_range: float


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """The two stacks of a variant and what they share."""

    variant: str
    encoder: Optional[StackSpec]
    decoder: StackSpec
    share: str
    output_head: str = "tied"  # tied | lm_head (see ModelConfig.output_head)


def _first(*values):
    return next(v for v in values if v is not None)


def _stack(config: ModelConfig, side: str, family_name: str, vocab_name: str,
           warm: bool) -> StackSpec:
    family, vocab = grid.FAMILIES[family_name], grid.FAMILIES[vocab_name]
    size = grid.SIZES[config.size]
    over = getattr(config, side)
    hidden = _first(over.hidden_size, config.hidden_size, size.hidden_size)
    heads = _first(over.num_heads, config.num_heads, size.num_heads)
    if hidden % heads:
        raise ConfigError(f"config error: model.{side}: hidden_size {hidden} is not "
                          f"divisible by num_heads {heads}")
    return StackSpec(
        family=family_name,
        vocab=vocab_name,
        warm=warm,
        vocab_size=_first(over.vocab_size, vocab.vocab_size),
        num_layers=_first(over.num_layers, config.num_layers, size.num_layers),
        hidden_size=hidden,
        num_heads=heads,
        intermediate_size=_first(over.intermediate_size, config.intermediate_size,
                                 size.intermediate_size),
        max_position_embeddings=_first(over.max_position_embeddings,
                                       config.max_position_embeddings,
                                       family.max_position_embeddings),
        type_vocab_size=_first(over.type_vocab_size, family.type_vocab_size),
        position_offset=family.position_offset,
        layer_norm_epsilon=_first(over.layer_norm_epsilon, family.layer_norm_epsilon),
        approximate_gelu=_first(over.approximate_gelu, family.approximate_gelu),
        norm_first=family.norm_first,
        embedding_layer_norm=family.embedding_layer_norm,
        final_layer_norm=family.final_layer_norm,
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        initializer_range=config.initializer_range,
    )


def resolve(config: ModelConfig) -> ModelSpec:
    """Turns a model config into the stacks of its variant, checking consistency."""
    variant = grid.VARIANTS.get(config.variant)
    if variant is None:
        raise ConfigError(f"config error: 'model.variant' is {config.variant!r}; valid "
                          "choices: " + ", ".join(grid.VARIANT_NAMES))
    decoder = _stack(config, "decoder", variant.decoder_family, variant.decoder_vocab,
                     variant.decoder_warm)
    encoder = None
    if variant.encoder_family is not None:
        encoder = _stack(config, "encoder", variant.encoder_family, variant.encoder_vocab,
                         variant.encoder_warm)
    share = variant.share
    if config.share_embeddings is not None and share != "all" and encoder is not None:
        share = "embeddings" if config.share_embeddings else "none"
    if config.output_head == "lm_head" and decoder.family == "gpt2":
        raise ConfigError(f"config error: model.output_head=lm_head: the decoder of "
                          f"{variant.name} is GPT-2, which has no masked-LM head; use 'tied'")
    spec = ModelSpec(variant.name, encoder, decoder, share, config.output_head)
    _check_sharing(spec)
    return spec


def _check_sharing(spec: ModelSpec) -> None:
    enc, dec = spec.encoder, spec.decoder
    if spec.share == "embeddings":
        if (enc.vocab_size, enc.hidden_size) != (dec.vocab_size, dec.hidden_size):
            raise ConfigError(
                f"config error: {spec.variant} shares one word-embedding matrix, so encoder "
                f"and decoder need the same vocab_size and hidden_size; got "
                f"{enc.vocab_size}x{enc.hidden_size} and {dec.vocab_size}x{dec.hidden_size}")
    if spec.share == "all":
        fields = ("vocab_size", "num_layers", "hidden_size", "num_heads", "intermediate_size",
                  "max_position_embeddings")
        diff = [f for f in fields if getattr(enc, f) != getattr(dec, f)]
        if diff:
            raise ConfigError(
                f"config error: {spec.variant} uses one set of weights for encoder and "
                f"decoder, so these must agree: " + ", ".join(
                    f"{f} ({getattr(enc, f)} vs {getattr(dec, f)})" for f in diff))

