"""One trace for every batch shape: trace a `tf.function` for a dataset's element spec first.

A `tf.function(reduce_retracing=True)` called with tensors traces for their exact shapes, and
again, with the varying dimensions relaxed to None, once a second shape arrives: two traces
(each of a whole training or decoding step) for every run whose batches vary in length.
Tracing first for the spec of the dataset (None where lengths vary) makes that ONE trace,
which every later batch reuses; with static shapes the spec is the exact shape anyway.
"""
import tensorflow as tf


def trace_for_spec(function, element_spec) -> None:
    """Traces `function` (a `tf.function` of one batch) for `element_spec` (of a tf.data or
    distributed dataset or iterator; None: nothing to do)."""
    if element_spec is not None:
        function.get_concrete_function(element_spec)


def element_spec_of(iterator):
    """The element spec of a tf.data or distributed iterator; None for a plain Python one."""
    if isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
        return iterator.element_spec
    return None
