"""A training run's input from prepared shards: checked, distributed, resumed in place.

    position = InputPosition()
    checkpoint = tf.train.Checkpoint(..., **position.checkpointed())   # then restored
    source = PreparedInput(config, vocab, start_id, strategy, position)  # checks the manifest
    iterator = source.iterator(start_step)   # each worker: its shards, from its position
    source.mark(step)                        # before each save

The checkpoint records how many examples each input pipeline has handed out and how many
pipelines there were (`input/examples`, `input/pipelines`); a resumed run starts every
pipeline at that example (`bert2bert.data.sharded`): nothing before it is read again.
"""
import logging

import tensorflow as tf

from bert2bert import grid
from bert2bert.config import Config
from bert2bert.data.errors import DataError
from bert2bert.data.features import pad_ids_of
from bert2bert.data.manifest import check_run, manifest_path, read_manifest, vocab_record
from bert2bert.data.sharded import ReadSettings, ShardedInput
from bert2bert.errors import UsageError
from bert2bert.text.from_files import FILE_KEYS

log = logging.getLogger("bert2bert")


def check_prepared(config: Config) -> None:
    """Cheap checks of a prepared run's settings, before any model is built."""
    if config.train.bucket_by_length:
        raise UsageError("train.bucket_by_length does not apply to task.file_format prepared "
                         "(partial buckets cannot be resumed in place); set it to false")
    read_manifest(config.task.data_dir).split("train", manifest_path(config.task.data_dir))


class InputPosition:
    """Where a run's prepared input stands, saved with every checkpoint: the examples each
    input pipeline has handed out and how many pipelines there were."""

    def __init__(self):
        self.examples = tf.Variable(0, dtype=tf.int64, trainable=False, name="input_examples")
        self.pipelines = tf.Variable(0, dtype=tf.int64, trainable=False, name="input_pipelines")

    def checkpointed(self) -> dict:
        """The checkpoint entries of the input position."""
        return {"input": tf.train.Checkpoint(examples=self.examples, pipelines=self.pipelines)}


class PreparedInput:
    """The "train" split of `config.task.data_dir`, held against the run (see the module).
    Made once the checkpoint (and its `InputPosition`) is restored: tokenizers built before a
    restore can lose their TensorFlow resources."""

    def __init__(self, config: Config, vocab, start_id: int, strategy,
                 position: InputPosition, split: str = "train"):
        task, tcfg = config.task, config.train
        check_prepared(config)
        manifest = read_manifest(task.data_dir)
        decoder_only = grid.VARIANTS[config.model.variant].decoder_only
        source, target = vocab.source.tokenizer(), vocab.target.tokenizer()
        check_run(manifest, {
            "source_vocab": vocab_record(vocab.source, FILE_KEYS),
            "target_vocab": vocab_record(vocab.target, FILE_KEYS),
            "max_source_length": task.max_source_length,
            "max_target_length": task.max_target_length,
            "decoder_only": decoder_only, "start_id": int(start_id)},
            manifest_path(task.data_dir))
        settings = ReadSettings(task.data_dir, split, tcfg.batch_size,
                                pad_ids_of(source, target, decoder_only), tcfg.static_shapes,
                                tcfg.shuffle_buffer, tcfg.seed)
        self.reader = ShardedInput(settings, manifest)
        self.strategy, self.accumulation = strategy, tcfg.gradient_accumulation_steps
        self.examples, self.pipelines = position.examples, position.pipelines
        self._start_step = self._start = self._per_update = self._count = None

    def iterator(self, step: int):
        """The distributed iterator of a run at update `step` (the restored position)."""
        self._start_step, self._start = step, int(self.examples.numpy())
        return iter(self.strategy.distribute_datasets_from_function(self._dataset))

    def _dataset(self, context: tf.distribute.InputContext) -> tf.data.Dataset:
        n, k = context.num_input_pipelines, context.input_pipeline_id
        recorded = int(self.pipelines.numpy())
        if recorded and recorded != n:
            raise DataError(f"the run read {self.reader.settings.directory} with {recorded} "
                            f"input pipeline(s) and resumes with {n}: its position would not "
                            f"carry over; resume with {recorded} workers")
        self._count = n
        self._per_update = self.accumulation * ShardedInput.examples_per_batch(
            context, self.reader.settings.global_batch_size)
        paths, counts = self.reader.shards_of(context)
        log.info("input pipeline %d/%d reads %d shard(s) (%d examples) from example %d: %s",
                 k + 1, n, len(paths), sum(counts), self._start, ", ".join(paths))
        return self.reader.pipeline(context, self._start, (paths, counts))

    def mark(self, step: int) -> None:
        """Records the position after update `step` (call before saving a checkpoint)."""
        self.examples.assign(self._start + (step - self._start_step) * self._per_update)
        self.pipelines.assign(self._count)
