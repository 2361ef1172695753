"""A short Keras `fit` lowers the loss; padding never counts in the loss."""
import keras
import numpy as np
import pytest
from keras import ops

from bert2bert.models import build_model, masked_cross_entropy, teacher_forcing_inputs
from tests.helpers import tiny_config, tiny_model


def copy_task(vocab, n=64, length=8, seed=0):
    """Source: random ids; target: the same ids then an end token (id 2), right-padded."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, length, n)
    src = np.zeros((n, length), "int32")
    tgt = np.zeros((n, length + 1), "int32")
    for i, L in enumerate(lengths):
        src[i, :L] = rng.integers(4, vocab, L)
        tgt[i, :L] = src[i, :L]
        tgt[i, L] = 2
    src_mask = (src > 0).astype("int32")
    tgt_mask = (np.arange(length + 1)[None] <= lengths[:, None]).astype("int32")
    inputs, labels = teacher_forcing_inputs(src, src_mask, tgt, tgt_mask, start_id=1)
    return {k: ops.convert_to_numpy(v) for k, v in inputs.items()}, ops.convert_to_numpy(labels)


@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_thirty_fit_steps_lower_the_loss(variant):
    model = tiny_model(variant, initializer_range=0.02)
    vocab = model.spec.decoder.vocab_size
    x, y = copy_task(vocab)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = model.evaluate(x, y, batch_size=16, verbose=0)
    history = model.fit(x, y, batch_size=16, epochs=30 // 4 + 1, steps_per_epoch=4, verbose=0)
    after = model.evaluate(x, y, batch_size=16, verbose=0)
    assert len(history.history["loss"]) * 4 >= 30
    assert np.isfinite(after)
    assert after < 0.8 * before, (before, after)


def test_padding_never_counts_in_the_loss():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 11)).astype("float32")
    labels = rng.integers(0, 11, (2, 5)).astype("int32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "int32")
    loss = float(masked_cross_entropy(labels, logits, mask))
    changed = logits.copy()
    changed[0, 3:] += 100.0  # garbage at padded positions
    labels2 = labels.copy()
    labels2[0, 3:] = 7
    assert float(masked_cross_entropy(labels2, changed, mask)) == pytest.approx(loss, rel=1e-6)
    # The mean is over the 8 real tokens.
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    assert loss == pytest.approx((nll * mask).sum() / 8, rel=1e-5)
    assert float(masked_cross_entropy(labels, logits, np.zeros_like(mask))) == 0.0


def test_label_smoothing_matches_keras():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 4, 9)).astype("float32")
    labels = rng.integers(0, 9, (3, 4))
    ours = float(masked_cross_entropy(labels, logits, np.ones((3, 4)), label_smoothing=0.1))
    ref = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        np.eye(9)[labels], logits)
    assert ours == pytest.approx(float(ref), rel=1e-5)


def test_label_smoothing_is_a_model_setting():
    plain = tiny_model("bert2bert", seed=3)
    smooth = build_model(tiny_config("bert2bert"), label_smoothing=0.2)
    smooth.set_weights(plain.get_weights())
    x, y = copy_task(plain.spec.decoder.vocab_size, n=8)
    for m in (plain, smooth):
        m.compile(optimizer="adam")
    assert smooth.evaluate(x, y, verbose=0) != pytest.approx(plain.evaluate(x, y, verbose=0))
