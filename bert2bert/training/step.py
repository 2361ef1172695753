"""One optimizer update: gradients of N micro-batches, normalised as ONE batch, clipped once.

    step = TrainStep(model, optimizer, strategy, clip_norm=1.0, accumulation=4)
    result = step(iterator)          # reads 4 micro-batches, applies one update
    results = step.run(iterator, 100)  # 100 updates in one tf.function: fields [100]

The loss of an update is the sum of its token losses over every micro-batch and replica,
divided by the number of real target tokens in all of them, so N micro-batches of b give
the same update as one batch of N * b (and any replica count the same as one device):

* each micro-batch's gradient is taken of its own mean loss (well scaled under float16 loss
  scaling) and multiplied back by its token count: the gradient of its token-loss sum;
* micro-batches 1..N-1 add that into per-replica accumulators; the N-th divides the total by
  the global token count of all N, sums it across replicas, clips the sum once and applies;
* under `mixed_float16` the gradient is unscaled BEFORE it is measured and clipped, and
  handed to Keras' LossScaleOptimizer scaled again (a power of two: exact), which skips the
  update when it is not finite; such a step is reported as `skipped`, not as an error.

The learning-rate schedule, `optimizer.iterations`, checkpoints and summaries therefore all
count real updates. `traces` counts how often each function was traced (Python bodies run
once per trace): with static shapes no count grows after the first update of each kind.
"""
import collections
import dataclasses

import keras
import tensorflow as tf

from bert2bert.layers import fused
from bert2bert.models.loss import masked_cross_entropy_sum
from bert2bert.training.tracing import element_spec_of, trace_for_spec

SUM = tf.distribute.ReduceOp.SUM


@dataclasses.dataclass
class StepResult:
    """What one update reports (scalar tensors)."""

    loss: tf.Tensor            # mean token loss of the whole update
    gradient_norm: tf.Tensor   # global norm of the (unscaled, summed) gradient, before clipping
    examples: tf.Tensor        # examples consumed by the update
    learning_rate: tf.Tensor   # the rate this update used
    skipped: tf.Tensor         # True when loss scaling found an inf/NaN and skipped the update

    def values(self) -> tuple:
        """The fields in order, not copied (`dataclasses.astuple` deep-copies tensors)."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))


def loss_scale_of(optimizer):
    """The current loss scale (1.0 without a LossScaleOptimizer)."""
    scale = getattr(optimizer, "dynamic_scale", None)
    return tf.constant(1.0) if scale is None else tf.cast(scale, tf.float32)


def current_learning_rate(optimizer):
    """The rate the next update of `optimizer` will use (the schedule at its iterations)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    lr = inner.learning_rate
    return tf.cast(lr(inner.iterations) if callable(lr) else lr, tf.float32)


class TrainStep:
    """Calling it with a (distributed) iterator reads `accumulation` micro-batches and applies
    one update; returns a `StepResult`. `jit_compile` compiles each forward and backward pass
    with XLA (one compile per batch shape: use it with static shapes or few bucket lengths);
    the cross-replica sum, clipping and optimizer update stay outside XLA (all-reduces)."""

    def __init__(self, model, optimizer, strategy, label_smoothing=0.0, clip_norm=None,
                 jit_compile=False, accumulation=1):
        if accumulation < 1:
            raise ValueError(f"gradient accumulation steps must be >= 1, got {accumulation}")
        self.model, self.optimizer, self.strategy = model, optimizer, strategy
        self.label_smoothing, self.clip_norm = label_smoothing, clip_norm
        self.accumulation = accumulation
        self.variables = model.trainable_variables
        self._loss_scaling = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        self.traces = collections.Counter()  # "gradients", "accumulate", "update", "loop"
        self._sums = None
        if accumulation > 1:
            with strategy.scope():  # per-replica accumulators
                def local(shape, name):
                    return tf.Variable(tf.zeros(shape, tf.float32), trainable=False, name=name,
                                       synchronization=tf.VariableSynchronization.ON_READ,
                                       aggregation=tf.VariableAggregation.SUM)
                self._sums = [local(v.shape, "gradient_sum") for v in self.variables]
                self._tokens = local((), "token_count")
                self._loss_sum = local((), "loss_sum")
        self._grads = self._gradients
        if jit_compile:
            self._grads = tf.function(self._gradients, jit_compile=True, reduce_retracing=True)
        # Batches are padded to their longest: shapes vary, so trace per shape class.
        self._accumulate_fn = tf.function(self._accumulate, reduce_retracing=True)
        self._update_fn = tf.function(self._update, reduce_retracing=True)
        self._loop_fn = tf.function(self._loop, reduce_retracing=True)
        self._traced = False

    def __call__(self, iterator) -> StepResult:
        if not self._traced:  # one trace for every batch shape of a tf.data iterator
            self._traced = True
            spec = element_spec_of(iterator)
            if self.accumulation > 1:
                trace_for_spec(self._accumulate_fn, spec)
            trace_for_spec(self._update_fn, spec)
        examples = 0
        for _ in range(self.accumulation - 1):
            examples += self._accumulate_fn(next(iterator))
        result = StepResult(*self._update_fn(next(iterator)))
        result.examples += examples
        return result

    def run(self, iterator, count: int) -> StepResult:
        """`count` updates; each field of the result holds one value per update [count].
        More than one runs inside ONE tf.function (a `tf.while_loop` over the iterator):
        one host round trip for all of them, as Model Garden's `steps_per_loop`. Once the loop
        is traced, a single update runs through it too (the last, shorter loop of a run
        between checkpoints): a second function would cost a second trace and optimisation."""
        if count == 1 and not self.traces["loop"]:
            return StepResult(*(tf.reshape(v, [1]) for v in self(iterator).values()))
        if not isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
            raise TypeError(f"a loop of {count} updates reads its batches in the graph: it needs "
                            f"a tf.data or distributed iterator, not {type(iterator).__name__}")
        return StepResult(*self._loop_fn(iterator, tf.constant(count, tf.int32)))

    def _loop(self, iterator, count):
        self.traces["loop"] += 1
        arrays = [tf.TensorArray(dtype, size=count) for dtype in
                  (tf.float32, tf.float32, tf.int32, tf.float32, tf.bool)]
        for i in tf.range(count):
            examples = tf.constant(0, tf.int32)
            for _ in range(self.accumulation - 1):
                examples += tf.cast(self._accumulate(next(iterator)), tf.int32)
            loss, norm, n, lr, skipped = self._update(next(iterator))
            values = (loss, norm, tf.cast(n, tf.int32) + examples, lr, skipped)
            arrays = [a.write(i, tf.cast(v, a.dtype)) for a, v in zip(arrays, values)]
        return tuple(a.stack() for a in arrays)

    # ------------------------------------------------------------------ per replica

    def _gradients(self, inputs, labels):
        """(token-loss sum, token count, dense gradient of the loss-scaled mean token loss) of
        one micro-batch; `count / loss scale` times it is the gradient of the token-loss sum."""
        self.traces["gradients"] += 1
        # GELU, LayerNorm and the loss as XLA-fused passes when the batch shape is fixed
        # (XLA compiles per shape: bert2bert/layers/fused.py).
        static = all(t.shape.is_fully_defined() for t in tf.nest.flatten((inputs, labels)))
        with tf.GradientTape() as tape, fused.passes(static):
            logits = self.model(inputs, training=True)
            total, count = masked_cross_entropy_sum(labels, logits, inputs["decoder_padding_mask"],
                                                    self.label_smoothing, fused_pass=static)
            count = tf.maximum(count, 1.0)
            scaled = self.optimizer.scale_loss(total / count)  # identity unless mixed_float16
        # Dense: the norm of IndexedSlices with repeated rows is not the gradient's norm,
        # and dense sums do not depend on how the batch is split across replicas.
        return total, count, [tf.convert_to_tensor(g)
                              for g in tape.gradient(scaled, self.variables)]

    def _replica_accumulate(self, batch):
        inputs, labels = batch
        total, count, grads = self._grads(inputs, labels)
        weight = count / loss_scale_of(self.optimizer)  # -> gradient of the token-loss sum
        for acc, g in zip(self._sums, grads):
            acc.assign_add(g * weight)
        self._tokens.assign_add(count)
        self._loss_sum.assign_add(total)
        return tf.shape(labels)[0]

    def _replica_update(self, batch):
        inputs, labels = batch
        total, count, grads = self._grads(inputs, labels)
        weight = count / loss_scale_of(self.optimizer)  # -> gradient of the token-loss sum
        ctx = tf.distribute.get_replica_context()
        replicas = self.strategy.num_replicas_in_sync
        if self._sums is None:  # one pass: the sum's gradient over the global token count
            global_count = ctx.all_reduce(SUM, count)
            scale = weight / global_count
            grads = [g * scale for g in grads]
        else:
            total, count = total + self._loss_sum, count + self._tokens
            global_count = ctx.all_reduce(SUM, count)
            grads = [(g * weight + acc) / global_count for g, acc in zip(grads, self._sums)]
            for v in self._sums + [self._tokens, self._loss_sum]:
                v.assign(tf.zeros_like(v))
        if replicas > 1:
            # Sum across replicas first (Keras would clip each replica's part), measure,
            # clip, then undo the sum that the optimizer applies again.
            grads = ctx.all_reduce(SUM, grads)
        norm = tf.linalg.global_norm(grads)
        if self.clip_norm:
            grads, _ = tf.clip_by_global_norm(grads, self.clip_norm, use_norm=norm)
        if self._loss_scaling or replicas > 1:  # LossScaleOptimizer unscales; replicas re-sum
            rescale = loss_scale_of(self.optimizer) / replicas
            grads = [g * rescale for g in grads]
        learning_rate = current_learning_rate(self.optimizer)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return total / global_count, norm, tf.shape(labels)[0], learning_rate

    # ---------------------------------------------------------------- cross replica

    def _accumulate(self, batch):
        self.traces["accumulate"] += 1
        n = self.strategy.run(self._replica_accumulate, args=(batch,))
        return self.strategy.reduce(SUM, n, axis=None)

    def _update(self, batch):
        self.traces["update"] += 1
        loss, norm, n, lr = self.strategy.run(self._replica_update, args=(batch,))
        mean = tf.distribute.ReduceOp.MEAN
        norm = self.strategy.reduce(mean, norm, axis=None)
        return (self.strategy.reduce(SUM, loss, axis=None), norm,  # StepResult's fields
                self.strategy.reduce(SUM, n, axis=None), self.strategy.reduce(mean, lr, axis=None),
                tf.logical_not(tf.math.is_finite(norm)))


def make_train_step(model, optimizer, strategy, label_smoothing=0.0, clip_norm=None,
                    jit_compile=False):
    """A one-batch update `step(batch) -> (loss, gradient_norm, examples)` (benchmarks)."""
    train_step = TrainStep(model, optimizer, strategy, label_smoothing, clip_norm, jit_compile)

    def step(batch):
        result = train_step(iter([batch]))
        return result.loss, result.gradient_norm, result.examples

    return step
