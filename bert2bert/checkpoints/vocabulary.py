"""Which vocabulary each side of a model reads and writes.

The source (encoder input, or the `gpt` prefix) uses the encoder checkpoint's
vocabulary, the target the decoder checkpoint's. A random side uses the other
side's vocabulary when the two share one, else `model.vocab_checkpoint`.
"""
from typing import Dict, NamedTuple, Optional

from bert2bert import grid
from bert2bert.checkpoints.base import CheckpointError, CheckpointReader
from bert2bert.checkpoints.detect import open_checkpoint
from bert2bert.config import ModelConfig
from bert2bert.text.vocabulary import Vocabulary


class Vocabularies(NamedTuple):
    """The vocabulary of each side of a model."""

    source: Vocabulary  # the encoder's input (the `gpt` prefix)
    target: Vocabulary  # what the decoder reads and writes


def vocabularies(config: ModelConfig,
                 readers: Dict[str, Optional[CheckpointReader]]) -> Vocabularies:
    """Each side's vocabulary; its tokenizer is built here (a clear error for unusable files)
    and cached for the run."""
    variant = grid.VARIANTS[config.variant]
    fallback = open_checkpoint(config.vocab_checkpoint) if config.vocab_checkpoint else None
    enc, dec = readers.get("encoder"), readers.get("decoder")
    same_vocab = variant.encoder_vocab == variant.decoder_vocab
    if variant.share == "all":
        dec = dec or enc
    source_reader = (dec if variant.decoder_only else
                     enc or (dec if same_vocab else None) or fallback)
    target_reader = dec or (enc if same_vocab else None) or fallback
    for side, reader in (("source", source_reader), ("target", target_reader)):
        if reader is None:
            raise CheckpointError(
                f"{config.variant}: no vocabulary for the {side} side: no checkpoint gives one; "
                "set model.vocab_checkpoint to a checkpoint whose vocabulary to use")
    for reader in (source_reader, target_reader):
        reader.tokenizer()  # fail early and clearly if the files are unusable (then cached)
    return Vocabularies(source_reader.vocabulary(), target_reader.vocabulary())
