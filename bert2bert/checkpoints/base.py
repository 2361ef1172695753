"""The checkpoint reader interface shared by every original format.

A reader opens one checkpoint in its original layout and offers:
    * `family` (bert | roberta | gpt2) and `config`, the `ArchSpec` it was trained with;
    * `vocab_files` (the vocabulary that came with it) and `lowercase`;
    * `variables()`: every original variable name with its shape;
    * `canonical()`: the family-neutral names our models use, each with the
      original variable it comes from and the transform that makes it fit.

Canonical names (H hidden, N heads, h head size, I intermediate):
    embeddings/word [V, H], embeddings/position [P, H], embeddings/token_type [T, H],
    embeddings/norm/{gamma,beta}
    layer_{i}/self_attention/{query,key,value}/kernel [H, N, h], .../bias [N, h]
    layer_{i}/self_attention/output/kernel [N, h, H], .../bias [H]
    layer_{i}/self_attention_norm/{gamma,beta}
    layer_{i}/feed_forward/intermediate/{kernel [H, I], bias [I]}
    layer_{i}/feed_forward/output/{kernel [I, H], bias [H]}
    layer_{i}/feed_forward_norm/{gamma,beta}
    final_norm/{gamma,beta}                      (GPT-2 only)
"""
import dataclasses
import json
import re
from typing import Callable, Dict, List, Optional, Pattern, Tuple

import numpy as np

from bert2bert import textfiles
from bert2bert import grid
from bert2bert.errors import Bert2BertError
from bert2bert.spec import ArchSpec
from bert2bert.text.vocabulary import Vocabulary


class CheckpointError(Bert2BertError, ValueError):
    """A checkpoint that cannot be used; the message names the file and variable."""


def trained_architecture(family: str, **fields) -> ArchSpec:
    """The architecture a checkpoint was trained with: its family's spec with the `fields`
    read from the checkpoint (its `trained` fields; see `bert2bert.spec.ArchSpec`)."""
    return dataclasses.replace(grid.FAMILIES[family], **fields)


@dataclasses.dataclass(frozen=True)
class Source:
    """Where one canonical tensor comes from."""

    name: str  # original variable name
    transform: str  # human-readable, "" for none
    fn: Callable[[np.ndarray], np.ndarray] = dataclasses.field(compare=False, repr=False)


# Training state that user checkpoints often carry; never model weights.
TRAINING_STATE = [
    (re.compile(r"(^|/)(adam_[mv]|Adam(_1)?)$"), "optimizer slot"),
    (re.compile(r"OPTIMIZER_SLOT|^optimizer/"), "optimizer slot"),
    (re.compile(r"(^|/)global_step($|/)"), "training step counter"),
    (re.compile(r"save_counter|_CHECKPOINTABLE_OBJECT_GRAPH"), "checkpoint bookkeeping"),
]


class CheckpointReader:
    """Base class: subclasses fill in the format-specific parts."""

    format_name = "base"
    description = ""

    def __init__(self, path: str):
        self.path = path

    # --- to implement -------------------------------------------------------
    @classmethod
    def detect(cls, path: str) -> bool:
        """True when `path` looks like this format (cheap: file names, not contents)."""
        raise NotImplementedError

    family: str
    config: ArchSpec
    vocab_files: Dict[str, str]
    lowercase: Optional[bool] = None
    weights_file: str

    def variables(self) -> Dict[str, Tuple[int, ...]]:
        """Every original variable name and its shape."""
        raise NotImplementedError

    def read(self, name: str) -> np.ndarray:
        """The value of one original variable."""
        raise NotImplementedError

    def canonical(self) -> Dict[str, Source]:
        """Canonical name -> `Source` for every tensor our models can use."""
        raise NotImplementedError

    # (pattern, reason) for original variables that are deliberately not used.
    ignore_patterns: List[Tuple[Pattern, str]] = []

    def ignored(self) -> Dict[str, str]:
        """Original variables not used, with the reason (heads, optimizer slots, ...)."""
        used = {s.name for s in self.sources().values()}
        patterns = TRAINING_STATE + self.ignore_patterns
        return {n: next((r for p, r in patterns if p.search(n)),
                        f"not part of the {self.family} layout")
                for n in self.variables() if n not in used}

    # --- shared --------------------------------------------------------------
    def for_side(self, side: str) -> "CheckpointReader":
        """The reader of `side` (encoder | decoder); a single-stack checkpoint serves both."""
        return self

    def sources(self) -> Dict[str, Source]:
        """`canonical()`, computed once."""
        if getattr(self, "_sources", None) is None:
            self._sources = self.canonical()
        return self._sources

    def tensor(self, canonical_name: str) -> np.ndarray:
        """Reads one canonical tensor, transformed."""
        source = self.sources()[canonical_name]
        try:
            value = source.fn(self.read(source.name))
        except CheckpointError:
            raise
        except Exception as e:  # corrupt or truncated data
            raise CheckpointError(
                f"{self.weights_file}: cannot read variable '{source.name}': "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
        return np.asarray(value)

    def vocabulary(self) -> Vocabulary:
        """The vocabulary that came with this checkpoint."""
        from bert2bert.text.from_files import FILE_KEYS

        if not any(k in FILE_KEYS for k in self.vocab_files):
            raise CheckpointError(f"{self.path}: no vocabulary file came with this checkpoint")
        return Vocabulary(self.family, self.vocab_files, self.lowercase)

    def tokenizer(self):
        """The in-graph tokenizer of `vocabulary()` (built once, then cached)."""
        vocabulary = self.vocabulary()
        try:
            return vocabulary.tokenizer()
        except ValueError as e:
            raise CheckpointError(f"{self.path}: {e}") from e

    def summary(self) -> Dict:
        """What `bert2bert inspect` prints."""
        shapes = self.variables()
        return {
            "path": self.path,
            "format": self.format_name,
            "description": self.description,
            "family": self.family,
            "config": dataclasses.asdict(self.config),
            "vocab_files": self.vocab_files,
            "lowercase": self.lowercase,
            "variables": len(shapes),
            "parameters": int(sum(int(np.prod(s)) for s in shapes.values())),
        }


def require_file(path: str, what: str) -> str:
    if not textfiles.isfile(path):
        raise CheckpointError(f"{path}: missing {what}")
    return path


def layer_indices(names: List[str], pattern) -> List[int]:
    """Sorted distinct integers captured by `pattern` (a compiled regex) in `names`."""
    found = {int(m.group(1)) for n in names for m in [pattern.search(n)] if m}
    return sorted(found)


def read_config(path: str, what: str, build: Callable[[dict], ArchSpec]):
    """Reads a JSON config and builds the `ArchSpec`; returns (raw dict, ArchSpec)."""
    require_file(path, what)
    try:
        with textfiles.open_file(path, "r", encoding="utf-8") as f:
            raw = json.load(f)
        return raw, build(raw)
    except CheckpointError:
        raise
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: not a valid {what} ({type(e).__name__}: {e})") from e


TANH_GELUS = ("gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_approximate")
EXACT_GELUS = ("gelu_exact", "gelu_python")


def gelu_is_tanh(activation: str, where: str, plain_gelu_is_tanh: bool) -> bool:
    """Whether a config's activation is the tanh GELU. Plain "gelu" is tanh in
    google-research BERT and Model Garden, exact (erf) in Hugging Face configs."""
    if activation == "gelu":
        return plain_gelu_is_tanh
    if activation in TANH_GELUS or activation in EXACT_GELUS:
        return activation in TANH_GELUS
    raise CheckpointError(f"{where}: activation {activation!r} is not supported; expected gelu, "
                          + ", ".join(TANH_GELUS + EXACT_GELUS))
