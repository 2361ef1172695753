"""From a `ModelConfig` (and the architectures its checkpoints were trained with) to the
`ModelSpec` the models are built from: the one place a model's architecture is resolved.

Each side, in order, later steps winning:
1. its family's spec (`grid.FAMILIES`) with its vocabulary's size, at the config's size;
2. the architecture of its checkpoint (the `trained` fields of `ArchSpec`); a random side
   takes the size of the other side's checkpoint (the paper pairs stacks of one shape),
   and its vocabulary size too when the two share word embeddings;
3. the config: model-wide values (`model.num_layers`, `model.dropout`, ...), then the
   side's own (`model.encoder.*`, `model.decoder.*`).

Example:
    >>> from bert2bert.config import ModelConfig
    >>> spec = model_spec(ModelConfig(variant="bert2gpt", num_layers=2))
    >>> spec.encoder.vocab_size, spec.decoder.vocab_size, spec.decoder.num_layers
    (30522, 50257, 2)
"""
import dataclasses
from typing import Mapping, Optional

from bert2bert import grid
from bert2bert.config import ConfigError, ModelConfig
from bert2bert.spec import ArchSpec, ModelSpec, SpecError, trained_fields

SIDES = ("encoder", "decoder")


def _side(config: ModelConfig, side: str, family: str, vocab: str,
          own: Optional[ArchSpec], other: Optional[ArchSpec], share: str) -> ArchSpec:
    spec = dataclasses.replace(grid.FAMILIES[family], vocab=vocab,
                               vocab_size=grid.FAMILIES[vocab].vocab_size)
    spec = dataclasses.replace(spec, **grid.SIZES[config.size])
    if own is not None:
        spec = dataclasses.replace(spec, **{f: getattr(own, f) for f in trained_fields()})
    elif other is not None:
        taken = tuple(grid.SIZES[config.size]) + (("vocab_size",) if share == "embeddings"
                                                  else ())
        spec = dataclasses.replace(spec, **{f: getattr(other, f) for f in taken})
    model_wide = {f.name: getattr(config, f.name) for f in dataclasses.fields(ArchSpec)
                  if hasattr(config, f.name)}
    per_side = dataclasses.asdict(getattr(config, side))
    try:
        return spec.override(**model_wide).override(**per_side)
    except SpecError as e:
        raise ConfigError(f"config error: model.{side}: {e}") from None


def model_spec(config: ModelConfig,
               checkpoints: Mapping[str, Optional[ArchSpec]] = None) -> ModelSpec:
    """The `ModelSpec` of `config`; `checkpoints` maps a side to the `ArchSpec` its
    checkpoint was trained with (readers' `config`). Raises `ConfigError` naming the key."""
    variant = grid.VARIANTS.get(config.variant)
    if variant is None:
        raise ConfigError(f"config error: 'model.variant' is {config.variant!r}; valid "
                          "choices: " + ", ".join(grid.VARIANT_NAMES))
    checkpoints = dict(checkpoints or {})
    share = variant.share
    if share == "all" and checkpoints.get("decoder") is None:
        checkpoints["decoder"] = checkpoints.get("encoder")
    if config.share_embeddings is not None and share != "all" and variant.encoder_family:
        share = "embeddings" if config.share_embeddings else "none"
    sides = {}
    for side, other in (SIDES, SIDES[::-1]):
        family = getattr(variant, f"{side}_family")
        sides[side] = None if family is None else _side(
            config, side, family, getattr(variant, f"{side}_vocab"), checkpoints.get(side),
            checkpoints.get(other), share)
    spec = ModelSpec(variant=variant.name, encoder=sides["encoder"], decoder=sides["decoder"],
                     share=share if variant.encoder_family else "none",
                     encoder_warm=variant.encoder_warm, decoder_warm=variant.decoder_warm,
                     cross_attention_init=config.cross_attention_init,
                     output_head=config.output_head, decoder_start=config.decoder_start)
    try:
        return spec.check()
    except SpecError as e:
        raise ConfigError(f"config error: {e}") from None


def pinned_config(config: ModelConfig,
                  checkpoints: Mapping[str, Optional[ArchSpec]] = None) -> ModelConfig:
    """`config` with each side's trained architecture written into its overrides
    (`model.encoder.*`, `model.decoder.*`), so that it builds the same model without the
    checkpoints (a run directory's config.yaml). Unchanged when there are no checkpoints."""
    if not any((checkpoints or {}).values()):
        return config
    spec = model_spec(config, checkpoints)
    sides = {}
    for side in SIDES:
        arch = spec.side(side)
        sides[side] = getattr(config, side) if arch is None else dataclasses.replace(
            getattr(config, side), **{f: getattr(arch, f) for f in trained_fields()})
    return dataclasses.replace(config, **sides)
