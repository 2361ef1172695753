"""Whole trained encoder-decoder checkpoints (the paper's released models): one file, two
stacks, trained cross-attention.

A `Seq2SeqCheckpoint` is also a `CheckpointReader` of its encoder, so it can warm-start any
model's encoder; `for_side("decoder")` gives the decoder as a single-stack reader whose
canonical names add the cross-attention (`layer_{i}/cross_attention/{query,key,value,output}/
{kernel,bias}`, `layer_{i}/cross_attention_norm/{gamma,beta}`) and the output head.
`import_settings()` says which model of the grid reproduces it.
"""
import dataclasses
from typing import Dict, List, Optional, Pattern, Tuple

from bert2bert.checkpoints.base import CheckpointError, CheckpointReader, Source
from bert2bert.checkpoints.layout import build_sources
from bert2bert.spec import ArchSpec
from bert2bert.text.vocabulary import Vocabulary

@dataclasses.dataclass(frozen=True)
class ImportSettings:
    """The grid model a whole checkpoint is: `model.*` config values."""

    variant: str  # bert2bert (two stacks) or bertShare / robertaShare (one)
    output_head: str  # tied | bias | lm_head
    share_embeddings: bool  # one word-embedding matrix for both stacks


class StackView(CheckpointReader):
    """One side of a whole-model checkpoint, read as a single-stack checkpoint."""

    def __init__(self, whole: "Seq2SeqCheckpoint", side: str, config: ArchSpec,
                 table: Dict[str, Tuple[str, object]]):
        super().__init__(whole.path)
        self.whole, self.side = whole, side
        self.format_name, self.config = whole.format_name, config
        self.family = (whole.decoder_family or whole.family) if side == "decoder" else \
            whole.family
        self.description = f"{whole.description}: its {side}"
        self.vocab_files, self.lowercase = whole.vocab_files, whole.lowercase
        self.weights_file = whole.weights_file
        self.ignore_patterns = whole.ignore_patterns
        self._table = table

    def variables(self):
        return self.whole.variables()

    def read(self, name):
        return self.whole.read(name)

    def canonical(self) -> Dict[str, Source]:
        return build_sources(self._table, self.config, self.variables())

    def vocabulary(self) -> Vocabulary:
        return self.whole.side_vocabulary(self.side)

    def summary(self):
        return {**super().summary(), "side": self.side}


class Seq2SeqCheckpoint(CheckpointReader):
    """Base of whole-model readers: subclasses set `encoder_config`, `decoder_config`,
    `encoder_table`, `decoder_table` (layout.build_sources tables), `shared`, `vocab_family`
    and `output_head`."""

    encoder_config: ArchSpec
    decoder_config: ArchSpec
    encoder_table: Dict[str, Tuple[str, object]]
    decoder_table: Dict[str, Tuple[str, object]]
    shared: bool
    decoder_family: Optional[str] = None  # the decoder stack's, when not `family` (gpt2)
    separate_embeddings: bool = True
    vocab_family: str
    output_head: str
    ignore_patterns: List[Tuple[Pattern, str]] = []

    @property
    def config(self) -> ArchSpec:  # as a single-stack reader: the encoder
        return self.encoder_config

    def canonical(self) -> Dict[str, Source]:
        return build_sources(self.encoder_table, self.encoder_config, self.variables())

    def for_side(self, side: str) -> CheckpointReader:
        if side == "encoder":
            return StackView(self, side, self.encoder_config, self.encoder_table)
        return StackView(self, side, self.decoder_config, self.decoder_table)

    def vocabulary(self) -> Vocabulary:
        from bert2bert.text.from_files import FILE_KEYS

        if not any(k in FILE_KEYS for k in self.vocab_files):
            raise CheckpointError(f"{self.path}: no vocabulary file came with this model")
        return Vocabulary(self.vocab_family, self.vocab_files, self.lowercase)

    def side_vocabulary(self, side: str) -> Vocabulary:
        """The vocabulary `side` reads or writes (one for both unless a subclass says)."""
        return self.vocabulary()

    def import_settings(self) -> ImportSettings:
        if self.decoder_family == "gpt2":
            variant = f"{self.family}2gpt"
        elif self.shared:
            variant = "bertShare" if self.family == "bert" else "robertaShare"
        else:
            variant = "bert2bert"
        return ImportSettings(
            variant=variant,
            output_head=self.output_head,
            share_embeddings=self.shared or not self.separate_embeddings)

    def summary(self) -> Dict:
        settings = self.import_settings()
        return {**super().summary(), "config": dataclasses.asdict(self.encoder_config),
                "decoder_config": dataclasses.asdict(self.decoder_config),
                "sharing": "all" if self.shared else (
                    "embeddings" if settings.share_embeddings else "none"),
                "imports_as": dataclasses.asdict(settings), "vocabulary_family": self.vocab_family}
