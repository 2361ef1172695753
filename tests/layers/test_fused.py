"""The fused training passes (bert2bert/layers/fused.py): the same values and gradients as
Keras' ops, in the training graph only (decoding and serving graphs need no XLA), and only
when the train step turns them on (static batch shapes)."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from bert2bert.layers import FeedForward, fused
from bert2bert.models.loss import token_cross_entropy

RNG = np.random.default_rng(0)


def value_and_grads(function, *tensors):
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = function(*tensors)
        weights = np.random.default_rng(1).normal(size=out.shape).astype("float32")  # same each call
        loss = tf.reduce_sum(tf.cast(out, tf.float32) * weights)
    return out, tape.gradient(loss, tensors)


def biggest(a, b):
    return float(tf.reduce_max(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))))


@pytest.mark.parametrize("approximate", [True, False])
def test_gelu_equals_keras_in_value_and_gradient(approximate):
    x = tf.constant(RNG.normal(size=(3, 5, 16)) * 3, tf.float32)
    want, (want_grad,) = value_and_grads(lambda x: ops.gelu(x, approximate=approximate), x)
    got, (got_grad,) = value_and_grads(lambda x: fused.gelu(x, approximate=approximate), x)
    assert biggest(got, want) < 1e-5 and biggest(got_grad, want_grad) < 1e-5
    bf16 = fused.gelu(tf.cast(x, tf.bfloat16), approximate=approximate)
    assert bf16.dtype == tf.bfloat16 and biggest(bf16, want) < 0.05


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_equals_keras_in_value_and_gradient(label_smoothing):
    logits = tf.constant(RNG.normal(size=(3, 5, 40)) * 4, tf.float32)
    labels = tf.constant(RNG.integers(0, 40, (3, 5)), tf.int32)
    want, (want_grad,) = value_and_grads(
        lambda z: token_cross_entropy(labels, z, label_smoothing), logits)
    got, (got_grad,) = value_and_grads(
        lambda z: token_cross_entropy(labels, z, label_smoothing, fused_pass=True), logits)
    assert got.dtype == tf.float32 and got.shape == (3, 5)
    assert biggest(got, want) < 1e-5 and biggest(got_grad, want_grad) < 1e-6
    _, (bf16_grad,) = value_and_grads(
        lambda z: token_cross_entropy(labels, z, label_smoothing, fused_pass=True),
        tf.cast(logits, tf.bfloat16))
    assert bf16_grad.dtype == tf.bfloat16  # the gradient comes back in the logits' dtype


def test_layer_norm_trains_as_keras_and_keeps_keras_weights():
    x = tf.constant(RNG.normal(size=(3, 5, 16)) * 3 + 1, tf.float32)
    weights = RNG.normal(size=(3, 5, 16)).astype("float32")
    ours = fused.LayerNormalization(epsilon=1e-12)
    theirs = keras.layers.LayerNormalization(epsilon=1e-12)
    ours.build(x.shape)
    theirs.build(x.shape)
    assert [w.path.split("/")[-1] for w in ours.weights] == ["gamma", "beta"]
    theirs.set_weights([RNG.normal(size=16), RNG.normal(size=16)])
    ours.set_weights(theirs.get_weights())

    def trained(layer):
        with tf.GradientTape() as tape, fused.passes(True):
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * weights)
        return (y, *tape.gradient(loss, [x, layer.gamma, layer.beta]))

    for got, want in zip(trained(ours), trained(theirs)):
        assert biggest(got, want) < 1e-5
    assert biggest(ours(x), theirs(x)) < 1e-5  # inference: Keras' own ops
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(copy) is fused.LayerNormalization and copy.epsilon == 1e-12


def xla_functions(concrete):
    """Names of the functions in `concrete`'s graph that XLA must compile."""
    names = []
    for f in concrete.graph.as_graph_def().library.function:
        if f.attr["_XlaMustCompile"].b:
            names.append(f.signature.name)
    return names


def test_only_the_training_graph_is_compiled_by_xla():
    layer = FeedForward(hidden_size=8, intermediate_size=32)
    x = tf.ones((2, 3, 8))

    def train(enabled):
        @tf.function
        def gradient(x):
            with tf.GradientTape() as tape, fused.passes(enabled):
                tape.watch(x)
                y = layer(x, training=True)
            return tape.gradient(y, x)
        return gradient.get_concrete_function(x)

    infer = tf.function(lambda x: layer(x, training=False))
    with fused.passes(True):
        assert not xla_functions(infer.get_concrete_function(x))
    assert xla_functions(train(True)) and not xla_functions(train(False))
    assert not fused.active(True)  # off outside a `passes(True)` block


@pytest.mark.slow  # a train step traced and XLA-compiled (about 5-10 s on 2 cores)
@pytest.mark.parametrize("static", [True, False])
def test_the_train_step_fuses_only_batches_of_a_fixed_shape(static):
    from bert2bert.config import OptimizerConfig
    from bert2bert.training.optimizer import build_optimizer
    from bert2bert.training.step import TrainStep
    from tests.helpers import random_inputs, tiny_model

    model = tiny_model("bert2bert", seed=3, num_layers=1)
    optimizer = build_optimizer(OptimizerConfig(name="adamw", schedule="linear",
                                                learning_rate=1e-3, warmup_steps=0,
                                                scale_by_hidden_size=False), 32, 5)
    step = TrainStep(model, optimizer, tf.distribute.get_strategy(), clip_norm=1.0)
    inputs = {k: tf.constant(v) for k, v in random_inputs(model, batch=2).items()}
    batch = (inputs, inputs["decoder_token_ids"])
    spec = tf.nest.map_structure(
        lambda t: tf.TensorSpec(t.shape if static else [None] * t.shape.rank, t.dtype), batch)
    graph = step._update_fn.get_concrete_function(spec)
    assert bool(xla_functions(graph)) == static
    before = [v.numpy().copy() for v in model.trainable_variables]
    loss = graph(batch)[0]  # this very trace updates the weights (no second trace)
    assert np.isfinite(float(loss))
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables))


@pytest.mark.parametrize("variant", ["bert2bert", "robertaShare", "gpt"])
def test_a_model_trains_the_same_with_the_fused_passes(variant):
    """BERT's tanh GELU, RoBERTa's erf GELU, GPT-2's pre-LayerNorm blocks: float32 logits,
    loss and every weight's gradient of a training pass are those of Keras' ops."""
    from tests.helpers import random_inputs, tiny_model

    model = tiny_model(variant, seed=3, num_layers=1, dropout=0.0, attention_dropout=0.0)
    inputs = {k: tf.constant(v) for k, v in random_inputs(model, batch=3).items()}
    labels = inputs["decoder_token_ids"]

    def forward(enabled):
        with tf.GradientTape() as tape, fused.passes(enabled):
            logits = model(inputs, training=True)
            loss = token_cross_entropy(labels, logits, fused_pass=enabled)
            total = tf.reduce_sum(loss)
        return logits, loss, tape.gradient(total, model.trainable_variables)

    (plain_logits, plain_loss, plain_grads), (fused_logits, fused_loss, fused_grads) = (
        forward(False), forward(True))
    assert biggest(fused_logits, plain_logits) < 1e-5
    assert biggest(fused_loss, plain_loss) < 1e-5
    assert [g is None for g in fused_grads] == [g is None for g in plain_grads]
    pairs = [(f, p) for f, p in zip(fused_grads, plain_grads) if p is not None]
    assert len(pairs) > 10
    for fast, plain in pairs:  # every trained weight's gradient, the same
        assert biggest(tf.convert_to_tensor(fast), tf.convert_to_tensor(plain)) < 1e-4


@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_under_mixed_bfloat16_the_fused_loss_reads_the_logits_without_a_float32_copy(variant):
    """In a train step's fused passes the model hands the loss its logits in the compute
    dtype (half the bytes of a float32 copy); the fused loss computes in float32 itself, so
    the loss and every weight's gradient are those it gives on a float32 copy, and outside
    the passes the logits are float32 as before."""
    from tests.helpers import random_inputs, tiny_model

    model = tiny_model(variant, seed=3, num_layers=1, dropout=0.0, attention_dropout=0.0,
                       dtype_policy="mixed_bfloat16")
    inputs = {k: tf.constant(v) for k, v in random_inputs(model, batch=3).items()}
    labels = inputs["decoder_token_ids"]
    assert model(inputs, training=True).dtype == tf.float32
    with tf.GradientTape(persistent=True) as tape, fused.passes(True):
        logits = model(inputs, training=True)
        direct = tf.reduce_sum(token_cross_entropy(labels, logits, fused_pass=True))
        copied = tf.reduce_sum(token_cross_entropy(labels, tf.cast(logits, tf.float32),
                                                   fused_pass=True))
    assert logits.dtype == tf.bfloat16
    assert float(direct) == float(copied)
    pairs = list(zip(tape.gradient(direct, model.trainable_variables),
                     tape.gradient(copied, model.trainable_variables)))
    assert sum(d is not None for d, _ in pairs) > 10
    for d, c in pairs:
        if c is not None:
            assert biggest(tf.convert_to_tensor(d), tf.convert_to_tensor(c)) == 0.0
