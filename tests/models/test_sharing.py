"""bertShare / robertaShare: one set of weights for encoder and decoder, kept through saving."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from bert2bert.models import Seq2SeqModel, count_parameters
from tests.helpers import random_inputs, tiny_model


def own_weights(stack):
    """Variables of a stack that are not cross-attention."""
    cross = {id(w) for w in stack.cross_attention_weights()}
    return [w for w in stack.weights if id(w) not in cross]


def cross_weights(stack):
    weights = stack.cross_attention_weights()
    assert len(weights) == 10 * len(stack.blocks)  # q, k, v, output: kernel + bias; LN: 2
    return weights


def nbytes(variables):
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


@pytest.mark.parametrize("variant", ["bertShare", "robertaShare"])
def test_one_copy_of_shared_weights(variant):
    model = tiny_model(variant)
    enc_ids = {id(w) for w in model.encoder.weights}
    dec_own = own_weights(model.decoder)
    assert dec_own and all(id(w) in enc_ids for w in dec_own)
    # Variable count and bytes: encoder + cross-attention, nothing more.
    assert len(model.weights) == len({id(w) for w in model.weights})
    assert len(model.weights) == len(model.encoder.weights) + len(cross_weights(model.decoder))
    expected = nbytes(model.encoder.weights) + nbytes(cross_weights(model.decoder))
    assert nbytes(model.weights) == expected == count_parameters(model).bytes
    # Compared with the unshared model, exactly the decoder's own stack is gone.
    if variant == "bertShare":
        unshared = tiny_model("bert2bert")
        saved = count_parameters(unshared).bytes - count_parameters(model).bytes
        own_unshared = [w for w in own_weights(unshared.decoder)
                        if w is not unshared.decoder.word_embeddings.embeddings]
        assert saved == nbytes(own_unshared)


def test_gradient_step_on_encoder_side_changes_decoder():
    model = tiny_model("bertShare")
    inputs = random_inputs(model)
    dec_kernel = model.decoder.blocks[0].self_attention.query_dense.kernel
    dec_ff = model.decoder.blocks[1].feed_forward.output_dense.kernel
    before = [ops.convert_to_numpy(dec_kernel).copy(), ops.convert_to_numpy(dec_ff).copy()]
    with tf.GradientTape() as tape:
        # A loss that only reads the encoder output.
        loss = tf.reduce_sum(tf.square(model.encode(inputs["encoder_token_ids"],
                                                    inputs["encoder_padding_mask"])))
    grads = tape.gradient(loss, model.trainable_variables)
    cross = {id(w) for w in cross_weights(model.decoder)}
    assert all(g is None for g, v in zip(grads, model.trainable_variables) if id(v) in cross)
    keras.optimizers.SGD(0.1).apply_gradients(
        [(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
    after = [ops.convert_to_numpy(dec_kernel), ops.convert_to_numpy(dec_ff)]
    for b, a in zip(before, after):
        assert np.abs(a - b).max() > 0


def assert_tied(model):
    enc_q = model.encoder.blocks[0].self_attention.query_dense.kernel
    assert model.decoder.blocks[0].self_attention.query_dense.kernel is enc_q
    enc_q.assign(enc_q + 1.0)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(model.decoder.blocks[0].self_attention.query_dense.kernel),
        ops.convert_to_numpy(enc_q))


@pytest.mark.parametrize("fmt", ["weights.h5", "tf_checkpoint", "keras"])
def test_save_restore_keeps_the_tie(tmp_path, fmt):
    model = tiny_model("bertShare", seed=1)
    inputs = random_inputs(model)
    expected = ops.convert_to_numpy(model(inputs))
    if fmt == "weights.h5":
        path = os.path.join(tmp_path, "m.weights.h5")
        model.save_weights(path)
        restored = tiny_model("bertShare", seed=2)
        restored.load_weights(path)
    elif fmt == "tf_checkpoint":
        prefix = tf.train.Checkpoint(model=model).save(os.path.join(tmp_path, "ckpt"))
        restored = tiny_model("bertShare", seed=2)
        tf.train.Checkpoint(model=restored).restore(prefix).assert_existing_objects_matched()
        # The object graph stores the shared variables once.
        names = [n for n, _ in tf.train.list_variables(prefix) if n.startswith("model/")]
        assert len([n for n in names if "VARIABLE_VALUE" in n]) == len(model.weights)
    else:
        path = os.path.join(tmp_path, "m.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
        assert isinstance(restored, Seq2SeqModel)
    assert len(restored.weights) == len(model.weights)
    np.testing.assert_allclose(ops.convert_to_numpy(restored(inputs)), expected, atol=1e-6)
    assert_tied(restored)


@pytest.mark.parametrize("variant", ["bert2bert", "bertShare", "gpt", "bert2gpt", "robertaShare"])
def test_tf_checkpoint_holds_every_variable(tmp_path, variant):
    """tf.train.Checkpoint (the training engine's format) sees every variable exactly once."""
    model = tiny_model(variant)
    prefix = tf.train.Checkpoint(model=model).save(os.path.join(tmp_path, "ckpt"))
    saved = [n for n, _ in tf.train.list_variables(prefix) if n.startswith("model/")]
    assert len(saved) == len(model.weights)
