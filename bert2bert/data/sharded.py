"""Reading prepared shards: one input pipeline per worker, resumable at any example.

    reader = ShardedInput(settings, manifest)
    dataset = reader.pipeline(tf.distribute.InputContext(2, 0, 2), position=0)

Pipeline k of n (`InputContext.input_pipeline_id` / `num_input_pipelines`) reads shards
k, k + n, k + 2n, ... of the split (disjoint; together all of them) and batches them at the
per-replica batch size. Its stream of examples is a pure function of the position, so a
resumed run starts at the example where it stopped without reading the ones before (a
"shard + offset" record, not a replay):

* epoch e (e = 0, 1, ...) reads the pipeline's shards in an order drawn from (seed, k, e);
* that stream is cut into windows of `shuffle_buffer` examples, each shuffled by a
  permutation drawn from (seed, k, e, window); shuffle_buffer 0 keeps the file order;
* position p (examples this pipeline has handed out) is epoch p // M (M: its examples),
  window w and offset r in it: whole shards before w are not opened, the records before w
  in its shard are skipped unparsed (`TFRecordDataset.skip`), the first r of the shuffled
  window are dropped before parsing.

Batches pad to their longest example (or to the max lengths with `static_shapes`); no
bucketing (its partial buckets would not be resumable).
"""
import dataclasses
from typing import List, Optional, Tuple

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.data.errors import DataError
from bert2bert.data.features import batch_examples, input_pads
from bert2bert.data.manifest import FEATURES, Manifest, manifest_path

EPOCHS = 2 ** 62  # "forever": training stops by steps


@dataclasses.dataclass(frozen=True)
class ReadSettings:
    """How a run reads a prepared split."""

    directory: str
    split: str
    global_batch_size: int
    pad_ids: Tuple[int, int]
    static_shapes: bool = False
    shuffle_buffer: int = 0
    seed: int = 0


def parse(record: tf.Tensor):
    """A serialized example -> (inputs with masks of ones, labels), int32, as `featurize`."""
    spec = {k: tf.io.VarLenFeature(tf.int64) for k in FEATURES}
    ids = {k: tf.cast(tf.sparse.to_dense(v), tf.int32)
           for k, v in tf.io.parse_single_example(record, spec).items()}
    inputs = {"encoder_token_ids": ids["encoder_token_ids"],
              "encoder_padding_mask": tf.ones_like(ids["encoder_token_ids"]),
              "decoder_token_ids": ids["decoder_token_ids"],
              "decoder_padding_mask": tf.ones_like(ids["decoder_token_ids"])}
    return inputs, ids["labels"]


def shard_records(path: tf.Tensor, skip: tf.Tensor) -> tf.data.Dataset:
    """The raw records of one shard after the first `skip` (skipped without parsing)."""
    return tf.data.TFRecordDataset(path).skip(skip)


def _permutation(size, seed) -> tf.Tensor:
    return tf.argsort(tf.random.stateless_uniform(tf.reshape(size, [1]), seed=seed))


class ShardedInput:
    """The batches of a prepared split for each input pipeline (see the module)."""

    def __init__(self, settings: ReadSettings, manifest: Manifest):
        self.settings, self.manifest = settings, manifest
        self.record = manifest.split(settings.split, manifest_path(settings.directory))
        self.window = max(1, settings.shuffle_buffer)

    def shards_of(self, context: tf.distribute.InputContext) -> Tuple[List[str], List[int]]:
        """(paths, example counts) of the shards pipeline `context.input_pipeline_id` reads."""
        n, k = context.num_input_pipelines, context.input_pipeline_id
        if len(self.record.files) < n:
            raise DataError(f"{manifest_path(self.settings.directory)}: split "
                            f"{self.settings.split!r} has {len(self.record.files)} shard(s) for "
                            f"{n} input pipelines; prepare it with --shards {n} or more")
        pairs = [(textfiles.join(self.settings.directory, f), c) for f, c in
                 zip(self.record.files[k::n], self.record.counts[k::n])]
        return [p for p, _ in pairs], [c for _, c in pairs]

    @staticmethod
    def examples_per_batch(context: tf.distribute.InputContext, global_batch_size: int) -> int:
        """Examples one pipeline hands out per global batch (its replicas' batches)."""
        replicas = context.num_replicas_in_sync // context.num_input_pipelines
        return context.get_per_replica_batch_size(global_batch_size) * replicas

    def pipeline(self, context: tf.distribute.InputContext, position: int = 0,
                 shards: Optional[Tuple[List[str], List[int]]] = None) -> tf.data.Dataset:
        """Pipeline `context`'s padded batches (per-replica size), from example `position`."""
        s = self.settings
        paths, counts = shards or self.shards_of(context)
        total = sum(counts)
        if total == 0:
            raise DataError(f"{manifest_path(s.directory)}: the shards of input pipeline "
                            f"{context.input_pipeline_id} hold no examples")
        epoch0, offset = divmod(int(position), total)
        window0, skip0 = divmod(offset, self.window)
        base_seed = tf.constant([s.seed, context.input_pipeline_id], tf.int64)
        paths_t, counts_t = tf.constant(paths), tf.constant(counts, tf.int64)
        window, shuffle = self.window, s.shuffle_buffer > 0

        def epoch(e):
            first = tf.equal(e, epoch0)
            start = tf.where(first, tf.constant(window0 * window, tf.int64), 0)
            seed = tf.random.experimental.stateless_fold_in(base_seed, e)
            order = _permutation(len(paths), seed) if shuffle else tf.range(len(paths))
            files, sizes = tf.gather(paths_t, order), tf.gather(counts_t, order)
            begins = tf.cumsum(sizes, exclusive=True)
            skips = tf.clip_by_value(start - begins, 0, sizes)
            keep = skips < sizes  # shards wholly before `start` are not opened
            records = tf.data.Dataset.from_tensor_slices(
                (tf.boolean_mask(files, keep), tf.boolean_mask(skips, keep))
            ).flat_map(shard_records)
            if shuffle:
                records = records.batch(window).enumerate(start // window).map(
                    lambda w, batch: tf.gather(batch, _permutation(
                        tf.shape(batch)[0], tf.random.experimental.stateless_fold_in(seed, w)))
                ).unbatch()
            return records.skip(tf.where(first, tf.constant(skip0, tf.int64), 0))

        records = tf.data.Dataset.range(epoch0, EPOCHS).flat_map(epoch)
        examples = records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        batches = batch_examples(
            examples, context.get_per_replica_batch_size(s.global_batch_size),
            self.manifest.max_source_length, self.manifest.max_target_length, s.pad_ids,
            static_shapes=s.static_shapes, drop_remainder=True)
        options = tf.data.Options()
        options.deterministic = True
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return batches.with_options(options).prefetch(tf.data.AUTOTUNE)

    def global_batches(self, pipelines: int, position: int = 0) -> tf.data.Dataset:
        """The global batches a cluster of `pipelines` pipelines (one replica each) reads, as
        one dataset: each pipeline's batch, padded alike and concatenated (to check a
        distributed run against one device)."""
        parts = tuple(self.pipeline(tf.distribute.InputContext(pipelines, k, pipelines),
                                    position) for k in range(pipelines))

        return tf.data.Dataset.zip(parts).map(
            lambda *batches: _join_batches(batches, self.settings.pad_ids))


def _join_batches(batches, pad_ids):
    """Concatenates padded (inputs, labels) batches along the batch axis, padding each to the
    longest first (ids with their side's pad id, masks with 0)."""
    pads = input_pads(pad_ids)

    def join(tensors, pad):
        width = tf.reduce_max(tf.stack([tf.shape(t)[1] for t in tensors]))
        return tf.concat([tf.pad(t, [[0, 0], [0, width - tf.shape(t)[1]]], constant_values=pad)
                          for t in tensors], 0)

    inputs = {k: join([b[0][k] for b in batches], pad) for k, pad in pads.items()}
    return inputs, join([b[1] for b in batches], pad_ids[1])
