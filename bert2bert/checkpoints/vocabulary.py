"""Which vocabulary each side of a model reads and writes.

The source (encoder input, or the `gpt` prefix) uses the encoder checkpoint's
vocabulary, the target the decoder checkpoint's. A random side uses the other
side's vocabulary when the two share one, else `model.vocab_checkpoint`.
"""
from typing import Dict, Optional

from bert2bert import grid
from bert2bert.checkpoints.base import CheckpointError, CheckpointReader
from bert2bert.checkpoints.detect import open_checkpoint
from bert2bert.config import ModelConfig


def _spec(reader: CheckpointReader) -> Dict:
    if not reader.vocab_files:
        raise CheckpointError(f"{reader.path}: no vocabulary file came with this checkpoint")
    reader.tokenizer()  # fail early and clearly if the files are unusable
    return {"family": reader.family, "files": dict(reader.vocab_files),
            "lowercase": reader.lowercase}


def vocabulary_specs(config: ModelConfig,
                     readers: Dict[str, Optional[CheckpointReader]]) -> Dict[str, Dict]:
    """{"source": spec, "target": spec}; a spec is {family, files, lowercase}."""
    variant = grid.VARIANTS[config.variant]
    fallback = open_checkpoint(config.vocab_checkpoint) if config.vocab_checkpoint else None
    enc, dec = readers.get("encoder"), readers.get("decoder")
    same_vocab = variant.encoder_vocab == variant.decoder_vocab
    if variant.share == "all":
        dec = dec or enc
    source_reader = (dec if variant.encoder_family is None else
                     enc or (dec if same_vocab else None) or fallback)
    target_reader = dec or (enc if same_vocab else None) or fallback
    for side, reader in (("source", source_reader), ("target", target_reader)):
        if reader is None:
            raise CheckpointError(
                f"{config.variant}: no vocabulary for the {side} side: no checkpoint gives one; "
                "set model.vocab_checkpoint to a checkpoint whose vocabulary to use")
    return {"source": _spec(source_reader), "target": _spec(target_reader)}


def tokenizer_from_spec(spec: Dict):
    from bert2bert.text import FILE_KEYS, tokenizer_from_files

    files = {k: v for k, v in spec["files"].items() if k in FILE_KEYS}
    return tokenizer_from_files(spec["family"], files, lowercase=spec["lowercase"])
