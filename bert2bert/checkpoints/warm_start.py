"""Warm-start any variant of the grid from checkpoint readers, and say what came from where.

    model, report = build_warm_started_model(model_config)
    print(report.summary())
    report.write_json("run/warm_start.json")

The model's shape comes from the checkpoints (size, vocabulary, epsilon, GELU
form) unless the config sets it explicitly. Loading is strict: a warm side
without a checkpoint, a family mismatch, a missing variable or a shape that
cannot be made to fit is a `CheckpointError` naming the file, variable and
shapes. The only shape change allowed is keeping the first rows of a position
table that is longer than the model's (e.g. 512 -> 128), and it is reported.
"""
import dataclasses
import json
import os
from collections import Counter
from typing import Dict, List, Optional, Tuple

import numpy as np

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError, CheckpointReader
from bert2bert.checkpoints.detect import open_checkpoint
from bert2bert.checkpoints.layout import HEAD, HEAD_REASON
from bert2bert.config import ModelConfig
from bert2bert.models import Seq2SeqModel, build_model
from bert2bert.resolve import pinned_config
from bert2bert.spec import ArchSpec

CROSS_ATTENTION_REASON = "new cross-attention: no pre-trained checkpoint has it"


# ----------------------------------------------------------------------------
# Which canonical tensor each model variable takes.


def stack_variables(stack) -> List[Tuple[object, str]]:
    """(variable, canonical name) for every variable of a stack except cross-attention."""
    emb = stack.embeddings
    pairs = [(emb.word_embeddings.embeddings, "embeddings/word"),
             (emb.position_embeddings.embeddings, "embeddings/position")]
    if emb.token_type_embeddings is not None:
        pairs.append((emb.token_type_embeddings.embeddings, "embeddings/token_type"))
    if emb.layer_norm is not None:
        pairs += [(emb.layer_norm.gamma, "embeddings/norm/gamma"),
                  (emb.layer_norm.beta, "embeddings/norm/beta")]
    for i, block in enumerate(stack.blocks):
        att = block.self_attention
        for part, dense in (("query", att.query_dense), ("key", att.key_dense),
                            ("value", att.value_dense), ("output", att.output_dense)):
            pairs += [(dense.kernel, f"layer_{i}/self_attention/{part}/kernel"),
                      (dense.bias, f"layer_{i}/self_attention/{part}/bias")]
        ff = block.feed_forward
        for part, dense in (("intermediate", ff.intermediate_dense), ("output", ff.output_dense)):
            pairs += [(dense.kernel, f"layer_{i}/feed_forward/{part}/kernel"),
                      (dense.bias, f"layer_{i}/feed_forward/{part}/bias")]
        for name, norm in (("self_attention_norm", block.self_attention_norm),
                           ("feed_forward_norm", block.feed_forward_norm)):
            pairs += [(norm.gamma, f"layer_{i}/{name}/gamma"),
                      (norm.beta, f"layer_{i}/{name}/beta")]
    if stack.final_norm is not None:
        pairs += [(stack.final_norm.gamma, "final_norm/gamma"),
                  (stack.final_norm.beta, "final_norm/beta")]
    return pairs


def cross_attention_variables(stack) -> List[Tuple[object, str]]:
    """(variable, canonical name) of a decoder's cross-attention sub-blocks; only a trained
    seq2seq checkpoint (a released model) has them."""
    pairs = []
    for i, block in enumerate(stack.blocks):
        att = block.cross_attention
        if att is None:
            continue
        for part, dense in (("query", att.query_dense), ("key", att.key_dense),
                            ("value", att.value_dense), ("output", att.output_dense)):
            pairs += [(dense.kernel, f"layer_{i}/cross_attention/{part}/kernel"),
                      (dense.bias, f"layer_{i}/cross_attention/{part}/bias")]
        norm = block.cross_attention_norm
        pairs += [(norm.gamma, f"layer_{i}/cross_attention_norm/gamma"),
                  (norm.beta, f"layer_{i}/cross_attention_norm/beta")]
    return pairs


def head_variables(model) -> List[Tuple[object, str]]:
    """(variable, canonical name) of the decoder's masked-LM head or output bias
    (`output_head=lm_head` or `bias`)."""
    head = model.output_head
    if head is None:
        return []
    pairs = [(head.bias, "head/bias")]
    if head.has_transform:
        pairs += [(head.dense.kernel, "head/transform/kernel"),
                  (head.dense.bias, "head/transform/bias"),
                  (head.layer_norm.gamma, "head/norm/gamma"),
                  (head.layer_norm.beta, "head/norm/beta")]
    return pairs


# ----------------------------------------------------------------------------
# The report.


@dataclasses.dataclass
class VariableOrigin:
    """Where one model variable's starting value came from."""

    variable: str  # the model variable's path
    shape: List[int]
    size: int
    side: str  # encoder | decoder
    source: Optional[str] = None  # "weights file:original name", or "copy of <path>"
    transform: str = ""  # what was done to fit it ("transpose", "rows 0..127 of 512", ...)
    random_reason: Optional[str] = None  # why it is random (None when loaded)


@dataclasses.dataclass
class CheckpointVariable:
    """One variable of a checkpoint: which model variables took it, or why none did."""

    name: str
    shape: List[int]
    used_by: List[str]
    ignored: Optional[str] = None


@dataclasses.dataclass
class WarmStartReport:
    """For every model variable its source or why it is random; for every
    checkpoint variable whether it was used or why not."""

    variant: str
    checkpoints: Dict[str, Dict] = dataclasses.field(default_factory=dict)  # side -> summary
    model_variables: List[VariableOrigin] = dataclasses.field(default_factory=list)
    # weights file -> its variables
    checkpoint_variables: Dict[str, List[CheckpointVariable]] = dataclasses.field(
        default_factory=dict)

    def counts(self) -> Dict[str, int]:
        loaded = sum(v.size for v in self.model_variables if v.source)
        total = sum(v.size for v in self.model_variables)
        return {"variables": len(self.model_variables),
                "loaded_variables": sum(1 for v in self.model_variables if v.source),
                "parameters": total, "loaded_parameters": loaded,
                "random_parameters": total - loaded}

    def summary(self) -> str:
        """A short, loud, human-readable account (printed when training starts)."""
        c = self.counts()
        lines = [f"warm start of {self.variant}: {c['loaded_variables']}/{c['variables']} variables,"
                 f" {c['loaded_parameters'] / 1e6:.2f}M of {c['parameters'] / 1e6:.2f}M "
                 f"parameters loaded; {c['random_parameters'] / 1e6:.2f}M random"]
        for side, info in self.checkpoints.items():
            lines.append(f"  {side}: {info['format']} {info['path']}")
        reasons = Counter(v.random_reason for v in self.model_variables if not v.source)
        for reason, n in reasons.most_common():
            lines.append(f"  random: {n} variables ({reason})")
        transforms = Counter(v.transform.split(",")[0] for v in self.model_variables
                             if v.source and "rows" in v.transform)
        for transform, n in transforms.items():
            lines.append(f"  sliced: {n} variables ({transform})")
        for path, rows in self.checkpoint_variables.items():
            ignored = Counter(r.ignored for r in rows if r.ignored)
            used = sum(1 for r in rows if not r.ignored)
            lines.append(f"  {path}: {used} variables used, {sum(ignored.values())} ignored")
            for reason, n in ignored.most_common():
                lines.append(f"    ignored {n}: {reason}")
        return "\n".join(lines)

    def to_dict(self) -> Dict:
        return {**dataclasses.asdict(self), "counts": self.counts()}

    def write_json(self, path: str) -> str:
        textfiles.makedirs(os.path.dirname(textfiles.absolute(path)))
        with textfiles.open_file(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_dict(), indent=1))
        return path


# ----------------------------------------------------------------------------
# Loading.


def _fit(value: np.ndarray, variable, canonical: str, source, reader) -> Tuple[np.ndarray, str]:
    """Makes a checkpoint tensor fit a model variable, or raises naming both."""
    want = tuple(variable.shape)
    if value.shape == want:
        return value, source.transform
    if (canonical == "embeddings/position" and value.ndim == 2 and value.shape[1] == want[1]
            and value.shape[0] > want[0]):
        note = f"rows 0..{want[0] - 1} of {value.shape[0]} (model has {want[0]} positions)"
        return value[: want[0]], ", ".join(t for t in (source.transform, note) if t)
    raise CheckpointError(
        f"{reader.weights_file}: variable '{source.name}' has shape {list(value.shape)}"
        f"{' after ' + source.transform if source.transform else ''} but model variable "
        f"'{variable.path}' needs {list(want)}")


def _check_family(reader: CheckpointReader, stack, side: str, variant: str):
    if reader.family != stack.spec.family:
        raise CheckpointError(
            f"{reader.path}: is a {reader.family} checkpoint ({reader.description}) but the "
            f"{side} of {variant} is a {stack.spec.family} stack; give a {stack.spec.family} "
            f"checkpoint as model.{side}_checkpoint")


def cross_attention_from_self_attention(model) -> List[Tuple[object, object]]:
    """Copies each decoder block's self-attention (and its LayerNorm) into its cross-attention
    when the shapes agree (encoder as wide as the decoder); returns (variable, copied from)
    pairs."""
    decoder = model.decoder
    if not model.spec.decoder_warm:
        raise CheckpointError("model.cross_attention_init=self_attention needs a warm-started "
                              "decoder (its self-attention is what gets copied)")
    copied = []
    for block in decoder.blocks:
        if block.cross_attention is None:
            continue
        for target, source in ((block.cross_attention, block.self_attention),
                               (block.cross_attention_norm, block.self_attention_norm)):
            for t, s in zip(target.weights, source.weights):
                if tuple(t.shape) != tuple(s.shape):
                    raise CheckpointError(
                        f"cannot start '{t.path}' {tuple(t.shape)} from '{s.path}' "
                        f"{tuple(s.shape)}: the encoder is not as wide as the decoder")
                t.assign(s.value)
                copied.append((t, s))
    return copied


def warm_start(model: Seq2SeqModel, readers: Dict[str, Optional[CheckpointReader]],
               strict: bool = True) -> WarmStartReport:
    """Loads `readers` ({"encoder": r, "decoder": r}) into a built model; returns the report."""
    variant = model.spec.variant
    report = WarmStartReport(variant=variant)
    origin: Dict[int, VariableOrigin] = {}  # id(variable) -> report row
    used: Dict[str, Dict[str, List[str]]] = {}  # weights file -> original name -> model paths
    skipped: Dict[str, Dict[str, str]] = {}  # weights file -> original name -> reason

    def row(variable, side, source=None, transform="", reason=None):
        entry = origin.get(id(variable))
        if entry is None:
            entry = VariableOrigin(variable.path, list(variable.shape),
                                   int(np.prod(variable.shape)), side, random_reason=reason)
            origin[id(variable)] = entry
            report.model_variables.append(entry)
        if source is not None and entry.source is None:
            entry.source, entry.transform, entry.random_reason = source, transform, None
        return entry

    def _load(variable, canonical, source, reader, side):
        value, transform = _fit(reader.tensor(canonical), variable, canonical, source, reader)
        variable.assign(value.astype(variable.dtype))
        row(variable, side, source=f"{reader.weights_file}:{source.name}", transform=transform)
        used.setdefault(reader.weights_file, {}).setdefault(source.name, []).append(
            variable.path)

    for side in ("encoder", "decoder"):
        stack = getattr(model, side)
        if stack is None:
            continue
        reader = readers.get(side)
        if reader is None and side == "decoder" and model.spec.share == "all":
            reader = readers.get("encoder")
        warm = model.spec.warm(side)
        if warm and reader is None and strict:
            raise CheckpointError(f"{variant}: the {side} is warm-started; set "
                                  f"model.{side}_checkpoint to a {stack.spec.family} checkpoint")
        if reader is not None and not warm:
            raise CheckpointError(f"{variant}: the {side} is random by definition; remove "
                                  f"model.{side}_checkpoint ({reader.path}) or pick another variant")
        for variable in stack.cross_attention_weights():
            row(variable, side, reason=CROSS_ATTENTION_REASON)
        if reader is None:
            for variable, _ in stack_variables(stack):
                row(variable, side, reason=f"the {side} of {variant} is random")
            continue
        _check_family(reader, stack, side, variant)
        report.checkpoints[side] = reader.summary()
        sources = reader.sources()
        for variable, canonical in cross_attention_variables(stack):
            source = sources.get(canonical)
            if source is not None:  # a trained seq2seq model's own cross-attention
                _load(variable, canonical, source, reader, side)
        for variable, canonical in stack_variables(stack):
            source = sources.get(canonical)
            loaded = origin[id(variable)].source if id(variable) in origin else None
            if loaded:  # a shared variable, loaded by the other side
                if source is not None and loaded != f"{reader.weights_file}:{source.name}":
                    skipped.setdefault(reader.weights_file, {})[source.name] = (
                        "shared by encoder and decoder: already loaded from the other "
                        "side's copy")
                continue
            if source is None:
                raise CheckpointError(
                    f"{reader.weights_file}: no variable for {canonical} (needed by "
                    f"'{variable.path}'); the checkpoint has {reader.config.num_layers} layers")
            _load(variable, canonical, source, reader, side)

    _load_head(model, readers, row, _load, skipped)

    trained_cross = [v for v in model.decoder.cross_attention_weights()
                     if origin[id(v)].source is not None]
    if trained_cross and model.spec.cross_attention_init == "self_attention":
        raise CheckpointError(
            f"{readers['decoder'].path}: the decoder checkpoint has trained cross-attention; "
            "model.cross_attention_init=self_attention would overwrite it (use 'random')")
    if model.spec.cross_attention_init == "self_attention":
        for variable, copied_from in cross_attention_from_self_attention(model):
            row(variable, "decoder", source=f"copy of {copied_from.path}",
                transform="cross-attention started from the same layer's self-attention")

    for side, reader in readers.items():
        if reader is None or reader.weights_file in report.checkpoint_variables:
            continue
        file_used = used.get(reader.weights_file, {})
        ignored = {**reader.ignored(), **skipped.get(reader.weights_file, {})}
        rows = []
        for name, shape in sorted(reader.variables().items()):
            reason = None
            if name not in file_used:
                reason = ignored.get(name, "not needed by this model (it has fewer layers or "
                                           "no such part)")
            rows.append(CheckpointVariable(name, list(shape), file_used.get(name, []), reason))
        report.checkpoint_variables[reader.weights_file] = rows
    return report


def _load_head(model, readers, row, load, skipped) -> None:
    """The decoder's masked-LM head (or output bias) from the decoder's checkpoint where it
    has one (else random, reported); head parts the model does not have are reported unused."""
    reader = readers.get("decoder")
    if reader is None and model.spec.share == "all":
        reader = readers.get("encoder")
    sources = reader.sources() if reader is not None else {}
    wanted = head_variables(model)
    for canonical in set(HEAD) - {c for _, c in wanted}:  # the parts this head does not have
        if canonical in sources:
            skipped.setdefault(reader.weights_file, {})[sources[canonical].name] = HEAD_REASON
    for variable, canonical in wanted:
        source = sources.get(canonical)
        if source is None:
            where = (f"{reader.path} has no masked-LM head" if reader is not None
                     else f"the decoder of {model.spec.variant} is random")
            row(variable, "decoder", reason=f"output head: {where}")
            continue
        load(variable, canonical, source, reader, "decoder")


# ----------------------------------------------------------------------------
# From a config to a warm-started model.

def open_readers(config: ModelConfig) -> Dict[str, Optional[CheckpointReader]]:
    readers = {"encoder": None, "decoder": None}
    for side in readers:
        path = getattr(config, f"{side}_checkpoint")
        if path:
            readers[side] = open_checkpoint(path).for_side(side)
    return readers


def architectures(readers: Dict[str, Optional[CheckpointReader]]) -> Dict[str, ArchSpec]:
    """Each side's trained architecture, as `bert2bert.resolve` takes it."""
    return {side: reader.config for side, reader in readers.items() if reader is not None}


def config_from_checkpoints(config: ModelConfig,
                            readers: Dict[str, Optional[CheckpointReader]]) -> ModelConfig:
    """The config with each side's architecture taken from its checkpoint where the config
    does not set it explicitly (`bert2bert.resolve.pinned_config`)."""
    return pinned_config(config, architectures(readers))


def build_warm_started_model(config: ModelConfig, strict: bool = True,
                             label_smoothing: float = 0.0):
    """Opens the config's checkpoints, builds the model in their shape, loads them.

    Returns `(model, report)`.
    """
    readers = open_readers(config)
    model = build_model(config, label_smoothing=label_smoothing,
                        checkpoints=architectures(readers))
    return model, warm_start(model, readers, strict=strict)
