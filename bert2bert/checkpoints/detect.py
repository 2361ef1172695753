"""Opening a checkpoint: detect its format from the path, or take an explicit one."""
import os
from typing import Optional

from bert2bert.checkpoints.base import CheckpointError, CheckpointReader
from bert2bert.checkpoints.bert_tf1 import BertTF1Reader
from bert2bert.checkpoints.gpt2_openai import Gpt2OpenAIReader
from bert2bert.checkpoints.hf import HuggingFaceReader
from bert2bert.checkpoints.tf2_bert import ModelGardenReader, TFHubBertReader

READERS = {r.format_name: r for r in (BertTF1Reader, Gpt2OpenAIReader, HuggingFaceReader,
                                      TFHubBertReader, ModelGardenReader)}


def open_checkpoint(path: str, format: Optional[str] = None) -> CheckpointReader:  # noqa: A002
    """Opens `path` with the reader of `format`, or the one that recognises it."""
    if format is not None:
        if format not in READERS:
            raise CheckpointError(f"{path}: unknown checkpoint format {format!r}; valid: "
                                  + ", ".join(READERS))
        return READERS[format](path)
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise CheckpointError(f"{path}: no such file or directory")
    if os.path.isdir(path) and not os.listdir(path):
        raise CheckpointError(f"{path}: empty directory, no checkpoint in it")
    for reader in READERS.values():
        if reader.detect(path):
            return reader(path)
    raise CheckpointError(
        f"{path}: not a checkpoint format bert2bert knows; expected one of: "
        + "; ".join(f"{r.format_name} ({r.description})" for r in READERS.values()))
