"""Elementwise parts of the TRAINING graph, each one XLA-compiled pass forward and one back.

TensorFlow runs a composite such as BERT's tanh GELU as about eight kernels forward and
fifteen back, each a full pass over a [tokens x 4 * hidden] tensor; the softmax
cross-entropy over [tokens x vocabulary] makes three passes and keeps a second
[tokens x vocabulary] tensor for its gradient. GELU, LayerNorm and the loss took a fifth of
a W1 training step's kernel time (`benchmarks/profile_ops.py --train`). Here each
is a `tf.custom_gradient` whose forward and backward are small `jit_compile` functions:
XLA fuses every elementwise op into one loop, the matrix products around them stay
TensorFlow's (oneDNN), which XLA's CPU backend runs slower (`benchmarks/README.md`).
Compiled once per shape, on any CPU (memory-bound work: the fusion pays without AMX).

Used only where a train step turns them on (`passes(True)`, around its forward pass) and
the layers are called with `training=True`: decoding, evaluation and the exported
signatures keep plain TensorFlow ops, so a SavedModel needs no XLA to serve. The train step
turns them on when its batches have static shapes: XLA compiles once per shape, which
pays for a fixed shape (TPU-style `static_shapes`, the benchmarks) but not for batches of
ever-changing lengths.

    with passes(True):                       # what the train step does
        logits = model(inputs, training=True)   # FeedForward's GELU, LayerNormalization fused
    y = gelu(x, approximate=True)            # = keras.ops.gelu(x, approximate=True)
    y = layer_norm(x, gamma, beta, epsilon)  # over the last axis, as LayerNormalization
    loss = sparse_cross_entropy(labels, logits, label_smoothing=0.1)   # [B, T] float32
"""
import contextlib
import math
import threading

import keras
import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_CUBIC = 0.044715


_STATE = threading.local()


@contextlib.contextmanager
def passes(enabled: bool):
    """Within the block (while a graph is traced), layers called with `training=True` use
    the fused passes when `enabled`."""
    before = getattr(_STATE, "enabled", False)
    _STATE.enabled = bool(enabled)
    try:
        yield
    finally:
        _STATE.enabled = before


def active(training) -> bool:
    """True when a layer called with `training` should use the fused passes."""
    return bool(training) and getattr(_STATE, "enabled", False)


def _compiled(function):
    return tf.function(function, jit_compile=True, autograph=False, reduce_retracing=True)


@_compiled
def _gelu_tanh(x):
    x32 = tf.cast(x, tf.float32)
    t = tf.tanh(_SQRT_2_OVER_PI * (x32 + _CUBIC * x32 * x32 * x32))
    return tf.cast(0.5 * x32 * (1.0 + t), x.dtype)


@_compiled
def _gelu_tanh_grad(x, dy):
    x32 = tf.cast(x, tf.float32)
    t = tf.tanh(_SQRT_2_OVER_PI * (x32 + _CUBIC * x32 * x32 * x32))
    slope = 0.5 * (1.0 + t) + 0.5 * x32 * (1.0 - t * t) * _SQRT_2_OVER_PI * (
        1.0 + 3.0 * _CUBIC * x32 * x32)
    return tf.cast(tf.cast(dy, tf.float32) * slope, dy.dtype)


@_compiled
def _gelu_erf(x):
    x32 = tf.cast(x, tf.float32)
    return tf.cast(0.5 * x32 * (1.0 + tf.math.erf(x32 * _INV_SQRT_2)), x.dtype)


@_compiled
def _gelu_erf_grad(x, dy):
    x32 = tf.cast(x, tf.float32)
    slope = (0.5 * (1.0 + tf.math.erf(x32 * _INV_SQRT_2))
             + x32 * _INV_SQRT_2PI * tf.exp(-0.5 * x32 * x32))
    return tf.cast(tf.cast(dy, tf.float32) * slope, dy.dtype)


def gelu(x, approximate: bool = True):
    """GELU (tanh form when `approximate`, else erf), computed in float32, returned in
    x's dtype; its gradient is one fused pass too."""
    forward, backward = (_gelu_tanh, _gelu_tanh_grad) if approximate else (
        _gelu_erf, _gelu_erf_grad)

    @tf.custom_gradient
    def fused(x):
        return forward(x), lambda dy: backward(x, dy)

    with tf.name_scope("fused_gelu"):
        return fused(x)


@_compiled
def _layer_norm(x, gamma, beta, epsilon):
    x32 = tf.cast(x, tf.float32)
    mean = tf.reduce_mean(x32, axis=-1, keepdims=True)
    centered = x32 - mean
    rstd = tf.math.rsqrt(tf.reduce_mean(centered * centered, axis=-1, keepdims=True) + epsilon)
    return tf.cast(centered * rstd * gamma + beta, x.dtype), mean, rstd


@_compiled
def _layer_norm_grad(x, gamma, mean, rstd, dy):
    normalised = (tf.cast(x, tf.float32) - mean) * rstd
    dy32 = tf.cast(dy, tf.float32)
    rows = list(range(len(x.shape) - 1))
    dgamma = tf.reduce_sum(dy32 * normalised, axis=rows)
    dbeta = tf.reduce_sum(dy32, axis=rows)
    g = dy32 * gamma
    dx = rstd * (g - tf.reduce_mean(g, axis=-1, keepdims=True)
                 - normalised * tf.reduce_mean(g * normalised, axis=-1, keepdims=True))
    return tf.cast(dx, x.dtype), dgamma, dbeta


def layer_norm(x, gamma, beta, epsilon: float):
    """LayerNorm of `x` over its last axis with float32 `gamma` and `beta` (computed in
    float32, returned in x's dtype); gradients for all three in one fused pass."""

    @tf.custom_gradient
    def fused(x, gamma, beta):
        y, mean, rstd = _layer_norm(x, gamma, beta, float(epsilon))
        return y, lambda dy: _layer_norm_grad(x, gamma, mean, rstd, dy)

    with tf.name_scope("fused_layer_norm"):
        return fused(x, gamma, beta)


@keras.saving.register_keras_serializable(package="bert2bert")
class LayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` (same weights, same checkpoints) that normalises
    the last axis with `layer_norm`'s fused pass when `active(training)`; Keras' ops
    otherwise."""

    def call(self, inputs, training=None):
        if active(training) and self.center and self.scale and self.axis in (-1, [-1],
                                                                      len(inputs.shape) - 1):
            return layer_norm(inputs, tf.convert_to_tensor(self.gamma),
                              tf.convert_to_tensor(self.beta), self.epsilon)
        return super().call(inputs)


@_compiled
def _cross_entropy(labels, logits, label_smoothing):
    logits = tf.cast(logits, tf.float32)
    normaliser = tf.reduce_logsumexp(logits, axis=-1)
    picked = tf.gather(logits, labels, batch_dims=len(labels.shape))
    loss = normaliser - picked
    if label_smoothing:  # a Python float: one trace per value
        smooth = normaliser - tf.reduce_mean(logits, axis=-1)
        loss = (1.0 - label_smoothing) * loss + label_smoothing * smooth
    return loss, normaliser


@_compiled
def _cross_entropy_grad(labels, logits, normaliser, label_smoothing, dloss):
    probs = tf.exp(tf.cast(logits, tf.float32) - normaliser[..., None])
    vocab = tf.shape(logits)[-1]
    target = tf.one_hot(labels, vocab, dtype=tf.float32)
    if label_smoothing:
        target = (1.0 - label_smoothing) * target + label_smoothing / tf.cast(vocab, tf.float32)
    return tf.cast((probs - target) * dloss[..., None], logits.dtype)


def sparse_cross_entropy(labels, logits, label_smoothing: float = 0.0):
    """Per-token cross-entropy [...] float32 of `logits` [..., V] (any float dtype) against
    int `labels` [...]; with `label_smoothing` eps the target is (1 - eps) on the label and
    eps spread evenly over the vocabulary. The same numbers as
    `keras.ops.sparse_categorical_crossentropy` (+ the smoothing term) to float32 rounding;
    no gradient for the labels."""
    labels = tf.cast(labels, tf.int32)
    smoothing = float(label_smoothing)

    @tf.custom_gradient
    def fused(logits):
        loss, normaliser = _cross_entropy(labels, logits, smoothing)

        def grad(dloss):
            return _cross_entropy_grad(labels, logits, normaliser, smoothing, dloss)

        return loss, grad

    with tf.name_scope("fused_cross_entropy"):
        return fused(logits)
