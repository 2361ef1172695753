"""The layers against a plain NumPy reference of the BERT and GPT-2 formulas."""
import math

import keras
import numpy as np
import pytest
from keras import ops

from bert2bert.layers import CachedAttention, FeedForward, TransformerBlock, TransformerEmbeddings


def np_layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def np_gelu(x, approximate):
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def np_attention(att, q_in, kv_in, mask):
    w = {v.path.split("/")[-2] + "/" + v.name: ops.convert_to_numpy(v) for v in att.weights}
    q = np.einsum("btd,dnh->btnh", q_in, w["query/kernel"]) + w["query/bias"]
    k = np.einsum("bsd,dnh->bsnh", kv_in, w["key/kernel"]) + w["key/bias"]
    v = np.einsum("bsd,dnh->bsnh", kv_in, w["value/kernel"]) + w["value/bias"]
    scores = np.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(q.shape[-1])
    scores = scores + (1.0 - mask[:, None].astype("float32")) * -10000.0  # BERT's additive mask
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    ctx = np.einsum("bnts,bsnh->btnh", probs, v)
    return np.einsum("btnh,nhd->btd", ctx, w["attention_output/kernel"]) + w["attention_output/bias"]


def np_feed_forward(ff, x):
    w = [ops.convert_to_numpy(v) for v in ff.weights]  # kernel, bias, kernel, bias
    return np_gelu(x @ w[0] + w[1], ff.approximate_gelu) @ w[2] + w[3]


def norm_weights(layer):
    return [ops.convert_to_numpy(v) for v in layer.weights] + [layer.epsilon]


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(0, 0.3, v.shape).astype("float32") + (1.0 if "gamma" in v.name else 0))


@pytest.mark.parametrize("norm_first,eps,approximate", [(False, 1e-12, True), (True, 1e-5, True),
                                                          (False, 1e-5, False)])
def test_block_matches_numpy_reference(norm_first, eps, approximate):
    block = TransformerBlock(16, 4, 40, norm_first=norm_first, layer_norm_epsilon=eps,
                             approximate_gelu=approximate, cross_attention=True)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 16)).astype("float32")
    enc = rng.normal(size=(2, 6, 24)).astype("float32")  # a wider encoder
    self_mask = np.tril(np.ones((5, 5), bool))[None].repeat(2, 0)
    cross_mask = np.ones((2, 1, 6), bool)
    cross_mask[1, 0, 4:] = False
    block(x, self_mask=self_mask, encoder_output=enc, cross_mask=cross_mask)
    randomize(block)
    out = ops.convert_to_numpy(block(x, self_mask=self_mask, encoder_output=enc,
                                     cross_mask=cross_mask))

    def ln(layer, h):
        return np_layer_norm(h, *norm_weights(layer))

    sa = lambda h: np_attention(block.self_attention, h, h, self_mask)  # noqa: E731
    ca = lambda h: np_attention(block.cross_attention, h, enc, cross_mask)  # noqa: E731
    ff = lambda h: np_feed_forward(block.feed_forward, h)  # noqa: E731
    h = x
    for fn, norm in ((sa, block.self_attention_norm), (ca, block.cross_attention_norm),
                     (ff, block.feed_forward_norm)):
        h = h + fn(ln(norm, h)) if norm_first else ln(norm, h + fn(h))
    np.testing.assert_allclose(out, h, atol=2e-5, rtol=1e-4)


def test_cached_attention_steps_equal_full_attention():
    att = CachedAttention(num_heads=2, head_size=4)
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    causal = np.tril(np.ones((6, 6), bool))[None]
    full = ops.convert_to_numpy(att(x, attention_mask=causal))
    cache = (ops.zeros((2, 2, 6, 4)), ops.zeros((2, 2, 6, 4)))  # [B, heads, length, size]
    for t in range(6):
        out, cache = att(x[:, t:t + 1], attention_mask=causal[:, t:t + 1], cache=cache, cache_index=t)
        np.testing.assert_allclose(ops.convert_to_numpy(out)[:, 0], full[:, t], atol=1e-6)
    # A precomputed cache (cross-attention style) gives the same as recomputing.
    kv = att.fixed_key_value(x)
    np.testing.assert_allclose(ops.convert_to_numpy(att(x[:, :2], cache=kv)),
                               ops.convert_to_numpy(att(x[:, :2], x)), atol=1e-6)


def test_embeddings_roberta_offset_and_gpt2_style():
    rob = TransformerEmbeddings(10, 4, 8, type_vocab_size=1, position_offset=2,
                                layer_norm_epsilon=1e-5)
    ids = np.array([[1, 2, 3]], "int32")
    rob(ids)
    for v in rob.weights:
        if "gamma" not in v.name and "beta" not in v.name:
            v.assign(np.random.default_rng(0).normal(size=v.shape).astype("float32"))
    word = ops.convert_to_numpy(rob.word_embeddings.embeddings)
    pos = ops.convert_to_numpy(rob.position_embeddings.embeddings)
    typ = ops.convert_to_numpy(rob.token_type_embeddings.embeddings)
    expected = np_layer_norm(word[ids] + pos[2:5][None] + typ[0], 1.0, 0.0, 1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(rob(ids)), expected, atol=1e-5)

    gpt = TransformerEmbeddings(10, 4, 8)  # no token types, no LayerNorm
    out = ops.convert_to_numpy(gpt(ids, position_ids=np.array([[5, 6, 7]])))
    expected = (ops.convert_to_numpy(gpt.word_embeddings.embeddings)[ids]
                + ops.convert_to_numpy(gpt.position_embeddings.embeddings)[5:8][None])
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert gpt.layer_norm is None and gpt.token_type_embeddings is None


def test_feed_forward_gelu_variants_differ():
    x = np.linspace(-3, 3, 8, dtype="float32").reshape(1, 1, 8)
    tanh_ff = FeedForward(8, 16, approximate_gelu=True)
    tanh_ff(x)
    exact_ff = FeedForward(8, 16, approximate_gelu=False)
    exact_ff(x)
    randomize(tanh_ff)
    for a, b in zip(tanh_ff.weights, exact_ff.weights):
        b.assign(a)
    np.testing.assert_allclose(ops.convert_to_numpy(tanh_ff(x)), np_feed_forward(tanh_ff, x),
                               atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(exact_ff(x)), np_feed_forward(exact_ff, x),
                               atol=1e-5)
    assert np.abs(ops.convert_to_numpy(tanh_ff(x)) - ops.convert_to_numpy(exact_ff(x))).max() > 1e-4


@pytest.mark.parametrize("layer", [
    CachedAttention(2, 4, dropout=0.1),
    FeedForward(8, 16, approximate_gelu=False),
    TransformerBlock(8, 2, 16, norm_first=True, cross_attention=True),
    TransformerEmbeddings(10, 8, 16, type_vocab_size=2, position_offset=2, layer_norm_epsilon=1e-5),
])
def test_get_config_round_trip(layer):
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_block_needs_encoder_output_for_cross_attention():
    block = TransformerBlock(8, 2, 16, cross_attention=True)
    with pytest.raises(ValueError, match="cross-attention"):
        block(np.ones((1, 2, 8), "float32"))
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(10, 3, 16)
