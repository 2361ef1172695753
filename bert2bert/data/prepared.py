"""`bert2bert prepare`: a task's splits featurized once, as TFRecord shards of token ids.

    summary = prepare_task(load_config("run.yaml"), "prepared/", ["train"], shards=8)

Each example is what training's `featurize` makes (the run's tokenizers, lengths and the
model's start id), stored as ids only: `encoder_token_ids`, `decoder_token_ids` and `labels`
(int64 lists; the masks are ones over those lengths). Example i of a split goes to shard
i % shards (shards differ by at most one example). Every shard is written atomically and
`manifest.json` (`bert2bert.data.manifest`) last, so a directory with a manifest is complete.
Training reads it with `task.file_format: prepared` and `task.data_dir: <the directory>`.
"""
import contextlib
import dataclasses
from typing import Dict, List, Sequence

import tensorflow as tf

from bert2bert import atomic, grid, textfiles
from bert2bert.checkpoints.vocabulary import Vocabularies, vocabularies
from bert2bert.checkpoints.warm_start import architectures, open_readers
from bert2bert.config import Config
from bert2bert.data.features import featurize
from bert2bert.data.manifest import (FEATURES, FORMAT_VERSION, Manifest, SplitRecord,
                                     check_output, manifest_path, vocab_record)
from bert2bert.data.preflight import check_task
from bert2bert.data.tasks import load_examples
from bert2bert.errors import UsageError
from bert2bert.resolve import model_spec
from bert2bert.text.from_files import FILE_KEYS


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def serialize(inputs: Dict, labels) -> bytes:
    """One featurized example as a tf.train.Example of int64 lists (`manifest.FEATURES`)."""
    values = {"encoder_token_ids": inputs["encoder_token_ids"],
              "decoder_token_ids": inputs["decoder_token_ids"], "labels": labels}
    return tf.train.Example(features=tf.train.Features(feature={
        k: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(i) for i in values[k]]))
        for k in FEATURES})).SerializeToString()


def write_split(examples: tf.data.Dataset, output: str, split: str, shards: int,
                progress: bool = True) -> SplitRecord:
    """Writes featurized `examples` round-robin into `shards` files; returns their record."""
    from tqdm.auto import tqdm

    names = [shard_name(split, i, shards) for i in range(shards)]
    counts = [0] * shards
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(tf.io.TFRecordWriter(stack.enter_context(
            atomic.replacing(textfiles.join(output, name), overwrite=False)))) for name in names]
        bar = stack.enter_context(tqdm(desc=f"prepare {split}", unit="ex", disable=not progress,
                                       dynamic_ncols=True))
        for index, (inputs, labels) in enumerate(examples.as_numpy_iterator()):
            writers[index % shards].write(serialize(inputs, labels))
            counts[index % shards] += 1
            bar.update(1)
    return SplitRecord(files=names, counts=counts, total=sum(counts))


@dataclasses.dataclass
class Prepared:
    """What `prepare_task` wrote."""

    directory: str
    manifest: Manifest


def run_vocabularies(config: Config):
    """(the run's Vocabularies, the model's decoder start id), as training will have them."""
    readers = open_readers(config.model)
    vocab = vocabularies(config.model, readers)
    spec = model_spec(config.model, architectures(readers))
    return vocab, spec.start_id(vocab.target.tokenizer().special_tokens), spec.decoder_start


def prepare_task(config: Config, output: str, splits: Sequence[str], shards: int = 8,
                 progress: bool = True) -> Prepared:
    """Featurizes `splits` of `config.task` into `output` (see the module)."""
    if shards < 1:
        raise UsageError(f"--shards must be >= 1, got {shards}")
    check_output(output)
    task = config.task
    if task.file_format == "prepared":
        raise UsageError(f"task {task.name!r} is prepared already ({task.data_dir}); prepare "
                         "from its text (tsv, jsonl, tfds or builtin)")
    check_task(task, splits)  # one line naming the file, line or key; before anything slow
    vocab, start_id, decoder_start = run_vocabularies(config)
    decoder_only = grid.VARIANTS[config.model.variant].decoder_only
    textfiles.makedirs(output)
    records = {}
    for split in splits:
        examples = featurize(load_examples(task, split), vocab.source.tokenizer(),
                             vocab.target.tokenizer(), task.max_source_length,
                             task.max_target_length, decoder_only=decoder_only,
                             start_id=start_id)
        records[split] = write_split(examples, output, split, shards, progress)
    manifest = manifest_of(config, vocab, start_id, decoder_start, records)
    atomic.write_json(manifest_path(output), manifest.to_dict())
    return Prepared(output, manifest)


def manifest_of(config: Config, vocab: Vocabularies, start_id: int, decoder_start: str,
                splits: Dict[str, SplitRecord]) -> Manifest:
    task = config.task
    return Manifest(
        format_version=FORMAT_VERSION, task=task.name,
        decoder_only=grid.VARIANTS[config.model.variant].decoder_only, start_id=int(start_id),
        decoder_start=decoder_start, max_source_length=task.max_source_length,
        max_target_length=task.max_target_length,
        source_vocab=vocab_record(vocab.source, FILE_KEYS),
        target_vocab=vocab_record(vocab.target, FILE_KEYS),
        text_task=dataclasses.asdict(task), splits=splits)


def split_names(text: str) -> List[str]:
    """"train,validation" -> ["train", "validation"]."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise UsageError(f"--splits {text!r}: name at least one split")
    return names
