"""From a format's name table to canonical `Source`s, with the reshapes every format needs.

A format describes itself by a table: canonical name template -> (original name
template, pre-transform). Templates may contain `{i}` (the layer index). The
pre-transform turns the original array into the canonical layout up to the
attention head split, which is done here for every format alike.
"""
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from bert2bert.checkpoints.base import Source
from bert2bert.spec import ArchSpec

EMBEDDINGS = ("embeddings/word", "embeddings/position", "embeddings/token_type",
              "embeddings/norm/gamma", "embeddings/norm/beta")
LAYER = tuple(
    [f"self_attention/{p}/{w}" for p in ("query", "key", "value", "output")
     for w in ("kernel", "bias")]
    + [f"self_attention_norm/{w}" for w in ("gamma", "beta")]
    + [f"feed_forward/{p}/{w}" for p in ("intermediate", "output") for w in ("kernel", "bias")]
    + [f"feed_forward_norm/{w}" for w in ("gamma", "beta")])
FINAL = ("final_norm/gamma", "final_norm/beta")
# BERT's masked-LM head (RoBERTa's lm_head): used with model.output_head=lm_head only.
HEAD = ("head/transform/kernel", "head/transform/bias", "head/norm/gamma", "head/norm/beta",
        "head/bias")
HEAD_REASON = ("masked-LM head; used with model.output_head=lm_head (head/bias also with "
               "'bias'); this model's output_head has no such part")

Pre = Optional[Tuple[str, Callable[[np.ndarray], np.ndarray]]]


def transpose() -> Pre:
    return "transpose", np.transpose


def head_shape(canonical: str, config: ArchSpec) -> Optional[Tuple[int, ...]]:
    """The multi-head shape a canonical attention tensor must have, else None."""
    H, N = config.hidden_size, config.num_heads
    h = H // N
    if "/self_attention/" not in canonical and "/cross_attention/" not in canonical:
        return None
    part, kind = canonical.split("/")[-2:]
    if part == "output":
        return (N, h, H) if kind == "kernel" else None
    return (H, N, h) if kind == "kernel" else (N, h)


def _compose(pre: Pre, shape: Optional[Tuple[int, ...]], original_shape) -> Tuple[str, Callable]:
    steps, fns = [], []
    if pre is not None:
        steps.append(pre[0])
        fns.append(pre[1])
    if shape is not None:
        if tuple(original_shape) != shape:
            steps.append(f"reshape to {list(shape)}")
        fns.append(lambda x, s=shape: np.reshape(x, s))

    def fn(x):
        for f in fns:
            x = f(x)
        return x

    return ", ".join(steps), fn


def build_sources(table: Dict[str, Tuple[str, Pre]], config: ArchSpec,
                  shapes: Dict[str, Tuple[int, ...]]) -> Dict[str, Source]:
    """Expands a format's table over the layers; keeps entries whose original exists."""
    out = {}
    for template, (original_template, pre) in table.items():
        indices = range(config.num_layers) if "{i}" in template else [None]
        for i in indices:
            canonical = template.format(i=i) if i is not None else template
            original = original_template.format(i=i) if i is not None else original_template
            if original not in shapes:
                continue
            desc, fn = _compose(pre, head_shape(canonical, config), shapes[original])
            out[canonical] = Source(original, desc, fn)
    return out


CROSS_LAYER = tuple(
    [f"cross_attention/{p}/{w}" for p in ("query", "key", "value", "output")
     for w in ("kernel", "bias")] + [f"cross_attention_norm/{w}" for w in ("gamma", "beta")])


def layer_table(prefix: str, names: Dict[str, str], pre: Optional[Dict[str, Pre]] = None,
                cross: bool = False):
    """A table for the per-layer tensors: `names` maps each LAYER entry (and, with `cross`,
    each CROSS_LAYER entry: a decoder's cross-attention) to an original suffix."""
    pre = pre or {}
    entries = LAYER + (CROSS_LAYER if cross else ())
    return {f"layer_{{i}}/{c}": (prefix + names[c], pre.get(c)) for c in entries if c in names}
