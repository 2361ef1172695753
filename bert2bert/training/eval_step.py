"""Evaluation steps under a tf.distribute strategy: teacher-forced loss and decoding.

    batches = eval_batches(dataset, rows=8, pad_ids=(0, 0), lengths=(48, 32))
    step = EvalStep(model, strategy, decode_fn, jit_compile=True)
    for batch in strategy.experimental_distribute_dataset(batches):
        total, count, ids, real = step(batch)   # ids [8, max_length] in the batch's order

`eval_batches` makes every batch `rows` long (the final partial one repeats its first row,
marked 0 in `real`), and with `lengths` every sequence as long as that (static shapes: one
trace, one XLA program for the whole split). The loss of a split is the SUM of its token
losses over the SUM of its tokens (padded rows count none), whatever the replica count.
"""
import collections
import functools
from typing import Callable, Optional, Tuple

import tensorflow as tf

from bert2bert.data.features import input_pads
from bert2bert.models.loss import masked_cross_entropy_sum
from bert2bert.models.seq2seq import INPUT_KEYS
from bert2bert.training.tracing import trace_for_spec

SUM = tf.distribute.ReduceOp.SUM


def eval_batches(dataset: tf.data.Dataset, rows: int, pad_ids: Tuple[int, int],
                 lengths: Optional[Tuple[int, int]] = None) -> tf.data.Dataset:
    """`(inputs, labels, real)` of every `(inputs, labels)` batch of `dataset`, the text keys
    dropped: `rows` rows each (a short batch repeats its first row; `real` [rows] float32 is 0
    there) and, given (source, target) `lengths`, sequences padded to them with `pad_ids`
    (source pad id, target pad id; masks pad with 0)."""
    target_pad = int(pad_ids[1])
    pads = input_pads(pad_ids)

    def fit(inputs, labels):
        n = tf.shape(labels)[0]
        index = tf.concat([tf.range(n), tf.zeros([rows - n], tf.int32)], 0)
        real = tf.cast(tf.range(rows) < n, tf.float32)
        out = {k: tf.gather(inputs[k], index) for k in INPUT_KEYS}
        labels = tf.gather(labels, index)
        if lengths is not None:
            side = {"encoder": lengths[0], "decoder": lengths[1]}
            for key in INPUT_KEYS:
                out[key] = _pad_to(out[key], side[key.split("_")[0]], pads[key])
            labels = _pad_to(labels, lengths[1], target_pad)
        for value in [*out.values(), labels, real]:
            value.set_shape([rows] + [None] * (value.shape.rank - 1))
        return out, labels, real

    return dataset.map(fit, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _pad_to(ids, length: int, value: int):
    ids = tf.pad(ids, [[0, 0], [0, length - tf.shape(ids)[1]]], constant_values=value)
    return tf.ensure_shape(ids, [None, length])


class EvalStep:
    """`step(batch)` on one distributed `eval_batches` batch -> (token-loss sum, token count,
    decoded ids [rows, ...] gathered in the batch's order, `real` [rows]). The per-replica
    loss and `decode_fn(source_ids, source_mask) -> (ids, lengths)` are compiled with XLA
    when `jit_compile`; `traces` counts the traces of "loss", "decode" and "step". Given the
    batches' `element_spec`, the first call traces for it: one trace for every batch shape."""

    def __init__(self, model, strategy, decode_fn: Callable, jit_compile: bool = False,
                 element_spec=None):
        self.model, self.strategy, self.decode_fn = model, strategy, decode_fn
        self._element_spec = element_spec  # of the batches: traced for it (tracing.py)
        self.traces = collections.Counter()
        xla = True if jit_compile else None  # None: the device's default (TPU: compiled)
        # No AutoGraph: the model, loss and decoding have no tensor-dependent Python control
        # flow (their loops are tf.while_loops), and rewriting them costs seconds a process.
        function = functools.partial(tf.function, reduce_retracing=True, autograph=False)
        self._loss = function(self._replica_loss, jit_compile=xla)
        self._decode = function(self._replica_decode, jit_compile=xla)
        self._step = function(self._cross_replica)

    def __call__(self, batch):
        if self._element_spec is not None:
            trace_for_spec(self._step, self._element_spec)
            self._element_spec = None
        return self._step(batch)

    def _replica_loss(self, inputs, labels, real):
        self.traces["loss"] += 1
        logits = self.model(inputs, training=False)
        mask = tf.cast(inputs["decoder_padding_mask"], tf.float32) * real[:, None]
        return masked_cross_entropy_sum(labels, logits, mask)

    def _replica_decode(self, source_ids, source_mask):
        self.traces["decode"] += 1
        return self.decode_fn(source_ids, source_mask)[0]

    def _replica(self, inputs, labels, real):
        total, count = self._loss(inputs, labels, real)
        ids = self._decode(inputs["encoder_token_ids"], inputs["encoder_padding_mask"])
        return total, count, ids, real

    def _cross_replica(self, batch):
        self.traces["step"] += 1
        total, count, ids, real = self.strategy.run(self._replica, args=batch)
        return (self.strategy.reduce(SUM, total, axis=None),
                self.strategy.reduce(SUM, count, axis=None),
                self.strategy.gather(ids, axis=0), self.strategy.gather(real, axis=0))
