"""Typed configuration: dataclasses, YAML loading, `--set` overrides, clear errors.

A config file is YAML with the sections `model`, `task`, `optimizer`, `train`
and `decode`, plus an optional `include:` list of other files (relative to the
including file) that are merged first. Every key and every value is checked
against the dataclasses below, and every number against its range (`RANGES`;
lengths against the position tables the config implies); a mistake is a
`ConfigError` whose one-line message names the key and the valid choices or range.

Example:
    >>> cfg = load_config(overrides=["model.variant=bertShare", "model.num_layers=2"])
    >>> cfg.model.num_layers
    2
"""
import dataclasses
import math
import os
import types
import typing
from typing import Any, Dict, List, Literal, Optional, Sequence

import yaml

from bert2bert import grid, textfiles
from bert2bert.errors import Bert2BertError
from bert2bert.ranges import AT_LEAST_0, AT_LEAST_1, FRACTION, POSITIVE, Range  # noqa: F401
from bert2bert.spec import overridable_fields

VariantName = Literal[grid.VARIANT_NAMES]  # type: ignore[valid-type]
SizeName = Literal[grid.SIZE_NAMES]  # type: ignore[valid-type]
MetricName = Literal["bleu", "bleu_uncased", "sacrebleu", "rouge", "sari", "exact"]


class ConfigError(Bert2BertError, ValueError):
    """A configuration mistake; the message names the key and what is valid."""


# Per-side architecture overrides (`model.encoder.*`, `model.decoder.*`): every overridable
# field of `ArchSpec`, None meaning "from the checkpoint, else the size/family default". Made
# from the spec, so a new architecture field is configurable without touching this file.
StackOverrides = dataclasses.make_dataclass(
    "StackOverrides",
    [(f.name, Optional[f.type], dataclasses.field(default=None)) for f in overridable_fields()])
StackOverrides.__module__ = __name__
StackOverrides.__doc__ = ("Per-side overrides of `bert2bert.spec.ArchSpec` fields (None: from "
                          "the checkpoint, else the size/family default).")


@dataclasses.dataclass
class ModelConfig:
    """Which variant of the grid, at which size, warm-started from where."""

    variant: VariantName = "bert2bert"
    size: SizeName = "base"
    # Overrides applied to both sides; `encoder`/`decoder` override one side.
    num_layers: Optional[int] = None
    hidden_size: Optional[int] = None
    num_heads: Optional[int] = None
    intermediate_size: Optional[int] = None
    max_position_embeddings: Optional[int] = None
    encoder: StackOverrides = dataclasses.field(default_factory=StackOverrides)
    decoder: StackOverrides = dataclasses.field(default_factory=StackOverrides)
    # None keeps the variant's choice; False gives encoder and decoder their own
    # word embeddings (as Hugging Face's EncoderDecoderModel does by default).
    share_embeddings: Optional[bool] = None
    # How a warm-started decoder's new cross-attention starts: "random" (the paper) or
    # "self_attention": a copy of the same layer's pre-trained self-attention (and its norm).
    cross_attention_init: Literal["random", "self_attention"] = "random"
    # The decoder's output: "tied" (the paper: hidden states times the word embeddings),
    # "bias" (the same plus an output bias over the vocabulary, as the paper's released models
    # and Hugging Face's BertGenerationDecoder) or "lm_head" (BERT's masked-LM head in front of
    # it: Dense, GELU, LayerNorm, and an output bias, as Hugging Face's BertLMHeadModel; from
    # the checkpoint's cls/predictions or lm_head where it has one, else random). "bias" and
    # "lm_head" are not for a GPT-2 decoder (GPT-2 has no such head).
    output_head: Literal["tied", "bias", "lm_head"] = "tied"
    # The decoder's first input: "start" (the paper: [CLS] at position 0) or "mask" ([MASK], with
    # decoder positions numbered from 1 so that decoder position p holds the word the source
    # holds at p: the first output word can be copied like every later one; README "The first
    # output token"). "mask" needs a vocabulary with a mask token (BERT, RoBERTa) and one more
    # row in the decoder's position table.
    decoder_start: Literal["start", "mask"] = "start"
    dropout: float = 0.1
    attention_dropout: float = 0.1
    initializer_range: float = 0.02
    encoder_checkpoint: Optional[str] = None
    decoder_checkpoint: Optional[str] = None
    # Vocabulary for random sides that share none with a checkpoint (e.g. rnd2rnd).
    vocab_checkpoint: Optional[str] = None
    # "auto": mixed_bfloat16 where bfloat16 is native (TPU, GPUs of compute capability >= 8.0,
    # CPUs with AMX-BF16 or AVX512-BF16), float32 elsewhere (bert2bert.precision).
    dtype_policy: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = "auto"


@dataclasses.dataclass
class TaskConfig:
    """A task of the paper: where the data is, how long inputs are, how it is scored."""

    name: str = "wikisplit"
    tfds_name: Optional[str] = None
    data_files: Dict[str, str] = dataclasses.field(default_factory=dict)
    # "prepared": token ids that `bert2bert prepare` wrote into `data_dir` (TFRecord shards
    # and manifest.json); training reads them per worker and resumes without replay.
    file_format: Literal["tfds", "tsv", "jsonl", "builtin", "prepared"] = "tfds"
    builtin_kind: Literal["fusion", "split"] = "fusion"  # with file_format builtin
    data_dir: Optional[str] = None  # TFDS data_dir; with file_format prepared, its directory
    manual_dir: Optional[str] = None  # TFDS manual_dir (offline copies of the downloads)
    source_key: str = "source"
    target_key: str = "target"
    max_source_length: int = 128
    max_target_length: int = 128
    metrics: List[MetricName] = dataclasses.field(default_factory=list)
    lowercase_metrics: bool = False
    # Score against sources and references passed through the target tokenizer (tokenize +
    # detokenize): the text an uncased WordPiece model can produce at all ("Don't." -> "don ' t .").
    metrics_on_tokenized_text: bool = False


@dataclasses.dataclass
class OptimizerConfig:
    """The paper's Adam with warm-up and square-root decay, or AdamW with linear decay."""

    name: Literal["adam", "adamw"] = "adam"
    schedule: Literal["paper_rsqrt", "linear"] = "paper_rsqrt"
    learning_rate: float = 0.05
    warmup_steps: int = 40000
    scale_by_hidden_size: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.997
    epsilon: float = 1e-9
    weight_decay: float = 0.0
    clip_norm: Optional[float] = None
    # Where Adam adds epsilon: "keras" (Keras's and TF1's: before the bias correction) or
    # "torch" (PyTorch's and Hugging Face's: lr * m_hat / (sqrt(v_hat) + epsilon)).
    adam_epsilon: Literal["keras", "torch"] = "keras"


@dataclasses.dataclass
class KeepBest:
    """Keep the checkpoint with the best evaluation `metric` (sari, bleu, rouge2, exact, ...:
    a metric the task computes) in `model_dir/best/`, beside the newest ones and never deleted
    by `keep_checkpoints` (Estimator's BestExporter); `mode` max or min. Off when metric is
    None. Needs `train.eval_every`."""

    metric: Optional[str] = None
    mode: Literal["max", "min"] = "max"


@dataclasses.dataclass
class TrainConfig:
    """How long and how big to train."""

    batch_size: int = 256
    train_steps: int = 200000
    label_smoothing: float = 0.0
    gradient_accumulation_steps: int = 1
    checkpoint_every: int = 1000
    keep_checkpoints: int = 5
    log_every: int = 100
    eval_every: Optional[int] = None
    eval_batch_size: int = 32
    max_eval_examples: Optional[int] = None
    shuffle_buffer: int = 10000
    # Every batch [batch_size, max_*_length] (evaluation pads the last partial batch and drops
    # its padded rows): one trace and one XLA program for all batches. Always on under the
    # tpu strategy (training.strategy.uses_static_shapes).
    static_shapes: bool = False
    bucket_by_length: bool = False  # training batches grouped by length (less padding)
    jit_compile: bool = False  # XLA for forward + backward (one compile per batch shape)
    # Updates run inside one tf.function (a tf.while_loop) per host round trip; checkpoints,
    # evaluation and the NaN stop happen between loops. None: 1 on the default strategy, 100
    # under a distribution strategy (TPU, GPUs), where host round trips leave devices idle.
    steps_per_loop: Optional[int] = None
    seed: int = 42
    keep_best: KeepBest = dataclasses.field(default_factory=KeepBest)


@dataclasses.dataclass
class DecodeConfig:
    """Beam search settings (GNMT length penalty ((5 + len) / 6) ** alpha)."""

    beam_size: int = 4
    alpha: float = 0.6
    max_length: Optional[int] = None
    min_length: int = 0
    no_repeat_ngram_size: int = 0
    # True: transformers' generate(early_stopping=True): only hypotheses that end among the
    # beam_size best candidates are kept, and a source is done once beam_size have ended.
    # False: Model Garden's rule (every ending candidate kept; a source goes on while an
    # alive hypothesis could still beat a finished one).
    early_stopping: bool = False


@dataclasses.dataclass
class Config:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    decode: DecodeConfig = dataclasses.field(default_factory=DecodeConfig)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------------------
# Checking values against type hints.


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return repr(tp).replace("typing.", "")
    return getattr(tp, "__name__", repr(tp))


def _coerce(value: Any, tp, key: str, where: str) -> Any:
    """Returns `value` checked (and, for dataclasses, built) against type `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, where)
            except ConfigError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        _fail(where, f"'{key}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if origin is Literal:
        if value not in args:
            _fail(where, f"'{key}' is {value!r}; valid choices: " + ", ".join(map(str, args)))
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            _fail(where, f"'{key}' must be a mapping of {tp.__name__} fields, got {value!r}")
        return _build(tp, value, key + ".", where)
    if origin in (list, List, Sequence):
        if not isinstance(value, list):
            _fail(where, f"'{key}' must be a list, got {type(value).__name__} {value!r}")
        return [_coerce(v, args[0], f"{key}[{i}]", where) for i, v in enumerate(value)]
    if origin in (dict, Dict):
        if not isinstance(value, dict):
            _fail(where, f"'{key}' must be a mapping, got {type(value).__name__} {value!r}")
        return {_coerce(k, args[0], key, where): _coerce(v, args[1], f"{key}.{k}", where)
                for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # e.g. a TSV column number: source_key: 0
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 3e-4 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if tp in (int, float) and isinstance(value, bool):
        _fail(where, f"'{key}' must be {tp.__name__}, got bool {value!r}")
    if not isinstance(value, tp):
        _fail(where, f"'{key}' must be {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def _fail(where: str, message: str):
    raise ConfigError(f"config error{where}: {message}")


def _build(cls, values: Dict[str, Any], prefix: str = "", where: str = ""):
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in values.items():
        if name not in fields:
            _fail(where, f"unknown key '{prefix}{name}'; valid keys: " + ", ".join(sorted(fields)))
        kwargs[name] = _coerce(value, hints[name], prefix + name, where)
    return cls(**kwargs)


# ---------------------------------------------------------------------------
# Files, includes and overrides.


def _deep_merge(base: Dict[str, Any], update: Dict[str, Any]) -> Dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str, _seen: Optional[List[str]] = None) -> Dict[str, Any]:
    """Reads a YAML config with its `include:` files merged in (includes first)."""
    path = textfiles.absolute(path)
    seen = list(_seen or [])
    if path in seen:
        raise ConfigError(f"config error in {path}: include cycle: " + " -> ".join(seen + [path]))
    if not textfiles.isfile(path):
        raise ConfigError(f"config error: file not found: {path}")
    with textfiles.open_file(path, "r", encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config error in {path}: not valid YAML: {e}".replace("\n", " ")) from e
    if not isinstance(data, dict):
        raise ConfigError(f"config error in {path}: the top level must be a mapping")
    includes = data.pop("include", []) or []
    if isinstance(includes, str):
        includes = [includes]
    merged: Dict[str, Any] = {}
    for inc in includes:
        inc_path = textfiles.join(os.path.dirname(path), inc)
        merged = _deep_merge(merged, read_yaml(inc_path, seen + [path]))
    return _deep_merge(merged, data)


def parse_override(text: str) -> Dict[str, Any]:
    """Turns 'model.num_layers=4' into {'model': {'num_layers': 4}} (value read as YAML)."""
    if "=" not in text:
        raise ConfigError(f"config error: override {text!r} must look like section.key=value")
    dotted, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"config error: override {text!r}: value is not valid YAML") from e
    out: Dict[str, Any] = {}
    node = out
    parts = dotted.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def config_from_dict(data: Dict[str, Any], where: str = "") -> Config:
    """Builds a checked `Config` (types, then ranges) from nested dictionaries."""
    where = f" in {where}" if where else ""
    return validate(_build(Config, data, "", where), where)


def model_config_from_dict(data: Dict[str, Any], where: str = "") -> ModelConfig:
    """A checked `ModelConfig` alone (a saved model's): types and ranges, but no task lengths
    to hold against its position tables."""
    where = f" in {where}" if where else ""
    return validate(_build(Config, {"model": data}, "", where), where, check_lengths=False).model


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> Config:
    """Loads `path` (with includes), applies `--set` style overrides, checks everything."""
    data = read_yaml(path) if path else {}
    for text in overrides:
        data = _deep_merge(data, parse_override(text))
    return config_from_dict(data, where=path or "")


# ---------------------------------------------------------------------------
# Ranges: every number of a config has one, checked when the config is loaded.


_STACK = {f.name: f.metadata["valid"] for f in overridable_fields() if f.metadata["valid"]}
_SHAPE = {k: _STACK[k] for k in ("num_layers", "hidden_size", "num_heads", "intermediate_size",
                                 "max_position_embeddings")}

# "section.key" -> valid range (a None value, where the type allows it, is not checked).
RANGES: Dict[str, Range] = {
    **{f"model.{k}": r for k, r in _SHAPE.items()},
    **{f"model.{side}.{k}": r for side in ("encoder", "decoder") for k, r in _STACK.items()},
    "model.dropout": FRACTION, "model.attention_dropout": FRACTION,
    "model.initializer_range": POSITIVE,
    "task.max_source_length": AT_LEAST_1, "task.max_target_length": AT_LEAST_1,
    "optimizer.learning_rate": POSITIVE, "optimizer.warmup_steps": AT_LEAST_0,
    "optimizer.beta_1": FRACTION, "optimizer.beta_2": FRACTION, "optimizer.epsilon": POSITIVE,
    "optimizer.weight_decay": AT_LEAST_0, "optimizer.clip_norm": POSITIVE,
    "train.batch_size": AT_LEAST_1, "train.train_steps": AT_LEAST_1,
    "train.label_smoothing": FRACTION, "train.gradient_accumulation_steps": AT_LEAST_1,
    "train.checkpoint_every": AT_LEAST_1, "train.keep_checkpoints": AT_LEAST_1,
    "train.log_every": AT_LEAST_1, "train.eval_every": AT_LEAST_1,
    "train.steps_per_loop": AT_LEAST_1,
    "train.eval_batch_size": AT_LEAST_1, "train.max_eval_examples": AT_LEAST_1,
    "train.shuffle_buffer": AT_LEAST_0, "train.seed": AT_LEAST_0,
    "decode.beam_size": AT_LEAST_1, "decode.alpha": AT_LEAST_0, "decode.max_length": AT_LEAST_1,
    "decode.min_length": AT_LEAST_0, "decode.no_repeat_ngram_size": AT_LEAST_0,
}


def _numbers(node, prefix: str = ""):
    """("section.key", value) of every int and float in a config (bools excluded)."""
    for f in dataclasses.fields(node):
        value, key = getattr(node, f.name), prefix + f.name
        if dataclasses.is_dataclass(value):
            yield from _numbers(value, key + ".")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield key, value


def position_table(model: ModelConfig, side: str) -> Optional[int]:
    """How many positions `side` ("encoder" or "decoder") can encode, when the config alone
    says so: set explicitly, or the family's default for a model without checkpoints.
    None when it comes from a checkpoint (known only once the checkpoint is read)."""
    variant = grid.VARIANTS[model.variant]
    family = variant.encoder_family if side == "encoder" else variant.decoder_family
    if family is None:
        return None
    explicit = getattr(model, side).max_position_embeddings
    explicit = model.max_position_embeddings if explicit is None else explicit
    if explicit is None and (model.encoder_checkpoint or model.decoder_checkpoint):
        return None
    table = grid.FAMILIES[family].max_position_embeddings if explicit is None else explicit
    shift = int(side == "decoder" and model.decoder_start == "mask")  # ModelSpec's shift
    return table - grid.FAMILIES[family].position_offset - shift


def _length_needs(config: Config):
    """(what, length, side) pairs: each length must fit that side's position table."""
    task, decode = config.task, config.decode
    if grid.VARIANTS[config.model.variant].decoder_only:  # the source prefixes the target
        longest = max(task.max_target_length, decode.max_length or 0)
        what = "task.max_source_length + " + (
            "decode.max_length" if longest > task.max_target_length else "task.max_target_length")
        return [(what, task.max_source_length + longest, "decoder")]
    needs = [("task.max_source_length", task.max_source_length, "encoder"),
             ("task.max_target_length", task.max_target_length, "decoder")]
    if decode.max_length is not None:
        needs.append(("decode.max_length", decode.max_length, "decoder"))
    return needs


def validate(config: Config, where: str = "", check_lengths: bool = True) -> Config:
    """Checks every number against `RANGES` and (`check_lengths`) the task's lengths against
    the position tables; raises `ConfigError` naming the key and the valid range. Returns
    `config`."""
    for key, value in _numbers(config):
        valid = RANGES.get(key)
        if valid is not None and value not in valid:
            _fail(where, f"'{key}' is {value!r}; valid range: {valid}")
    decode = config.decode
    if decode.max_length is not None and decode.min_length > decode.max_length:
        _fail(where, f"'decode.min_length' is {decode.min_length}; valid range: "
                     f"<= decode.max_length ({decode.max_length})")
    for what, length, side in _length_needs(config) if check_lengths else ():
        table = position_table(config.model, side)
        if table is not None and length > table:
            _fail(where, f"'{what}' is {length}; valid range: <= {table}, the {side}'s position "
                         f"table (model.{side}.max_position_embeddings or "
                         f"model.max_position_embeddings)")
    return config
