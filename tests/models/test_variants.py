"""The paper's grid: causality, cache equivalence, cross-attention use, vocabularies."""
import numpy as np
import pytest
from keras import ops

from bert2bert import grid
from bert2bert.config import ConfigError, StackOverrides
from bert2bert.models import build_model
from tests.helpers import random_inputs, tiny_config, tiny_model

ALL = list(grid.VARIANT_NAMES)


def logits(model, inputs):
    return ops.convert_to_numpy(model(inputs, training=False))


@pytest.mark.parametrize("variant", ALL)
def test_causality(variant):
    """Changing target token t+1 never changes the logits at positions <= t."""
    model = tiny_model(variant)
    inputs = random_inputs(model)
    base = logits(model, inputs)
    vocab = model.spec.decoder.vocab_size
    T = inputs["decoder_token_ids"].shape[1]
    for t in range(T - 1):
        changed = {k: v.copy() for k, v in inputs.items()}
        changed["decoder_token_ids"][:, t + 1] = (changed["decoder_token_ids"][:, t + 1] + 5) % vocab
        out = logits(model, changed)
        np.testing.assert_array_equal(out[:, : t + 1], base[:, : t + 1])
        assert np.abs(out[:, t + 1] - base[:, t + 1]).max() > 1e-3, "position t+1 must see its token"


def greedy_cached_vs_full(model, inputs, steps):
    """Greedy-decodes `steps` tokens with the cache; returns (cached logits, full logits)."""
    state = model.start_decoding(inputs["encoder_token_ids"], inputs["encoder_padding_mask"],
                                 max_target_length=steps)
    batch = inputs["encoder_token_ids"].shape[0]
    tokens = np.full((batch,), 3, "int32")
    fed, step_logits = [], []
    for step in range(steps):
        fed.append(tokens)
        out, state = model.decode_step(state, tokens, step)
        out = ops.convert_to_numpy(out)
        step_logits.append(out)
        tokens = out.argmax(-1).astype("int32")
    dec_ids = np.stack(fed, axis=1)
    full = logits(model, dict(inputs, decoder_token_ids=dec_ids,
                              decoder_padding_mask=np.ones_like(dec_ids)))
    return np.stack(step_logits, axis=1), full


@pytest.mark.parametrize("variant", ALL)
def test_cached_greedy_decoding_equals_full_forward(variant):
    model = tiny_model(variant)
    inputs = random_inputs(model)
    cached, full = greedy_cached_vs_full(model, inputs, steps=6)
    assert cached.shape == full.shape
    np.testing.assert_allclose(cached, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_beams_of_a_source_decode_as_that_source_alone(variant):
    """`start_decoding(..., beams=3)`: 3 cache rows per source; the encoder-decoder keeps its
    cross-attention keys and values once per source (not a copy per beam). Each row's
    step logits equal those of its source decoded alone, whatever the other beams feed."""
    model = tiny_model(variant)
    inputs = random_inputs(model, batch=2)
    src, mask = inputs["encoder_token_ids"], inputs["encoder_padding_mask"]
    beams, vocab = 3, model.spec.decoder.vocab_size
    state = model.start_decoding(src, mask, 4, beams=beams)
    assert state.cache[0][0].shape[0] == 2 * beams
    if variant == "bert2bert":
        assert state.constants.cross_key_values[0][0].shape[0] == 2  # once per source
    tokens = np.arange(2 * beams, dtype="int32") % vocab + 3  # every row its own token
    alone = [model.start_decoding(src[r // beams:r // beams + 1], mask[r // beams:r // beams + 1],
                                  4) for r in range(2 * beams)]  # one state per row
    for step in range(3):
        out, state = model.decode_step(state, tokens, step)
        for row in range(2 * beams):
            want, alone[row] = model.decode_step(alone[row], tokens[row:row + 1], step)
            np.testing.assert_allclose(ops.convert_to_numpy(out)[row],
                                       ops.convert_to_numpy(want)[0], atol=1e-5, rtol=0)
        tokens = (tokens + 7) % vocab


@pytest.mark.parametrize("variant", ALL)
def test_source_changes_decoder_logits(variant):
    """Cross-attention is really used (for gpt: the prefix is really attended to)."""
    model = tiny_model(variant)
    inputs = random_inputs(model, src_pad=0)
    base = logits(model, inputs)
    changed = dict(inputs, encoder_token_ids=np.roll(inputs["encoder_token_ids"], 1, axis=1))
    out = logits(model, changed)
    # Every target position of every example must depend on the source.
    assert (np.abs(out - base).max(axis=-1) > 1e-3).all()


@pytest.mark.parametrize("variant", ALL)
def test_source_padding_is_masked(variant):
    """Extra source padding (with garbage ids) changes nothing."""
    model = tiny_model(variant)
    inputs = random_inputs(model, src_pad=0)
    base = logits(model, inputs)
    b, s = inputs["encoder_token_ids"].shape
    padded = dict(inputs,
                  encoder_token_ids=np.concatenate(
                      [inputs["encoder_token_ids"], np.full((b, 3), 7, "int32")], 1),
                  encoder_padding_mask=np.concatenate(
                      [inputs["encoder_padding_mask"], np.zeros((b, 3), "int32")], 1))
    np.testing.assert_allclose(logits(model, padded), base, atol=1e-5)


@pytest.mark.parametrize("variant", ALL)
def test_output_projection_is_tied_to_decoder_embedding(variant):
    model = tiny_model(variant)
    word = model.decoder.word_embeddings.embeddings
    matrices = [w for w in model.weights if tuple(w.shape) == tuple(word.shape)]
    assert len(matrices) == (1 if model.spec.share != "none" or model.decoder_only else 1 +
                             (model.encoder.word_embeddings.embeddings.shape == word.shape))
    assert model.logits(ops.ones((1, 1, word.shape[1]))).shape[-1] == word.shape[0]
    hidden = np.random.default_rng(0).normal(size=(1, 2, word.shape[1])).astype("float32")
    expected = hidden @ ops.convert_to_numpy(word).T
    np.testing.assert_allclose(ops.convert_to_numpy(model.logits(hidden)), expected, atol=1e-5)


@pytest.mark.parametrize("variant,same_matrix", [
    ("rnd2rnd", True), ("bert2bert", True), ("rnd2gpt", True), ("bertShare", True),
    ("bert2gpt", False), ("roberta2gpt", False)])
def test_word_embedding_sharing_between_sides(variant, same_matrix):
    model = tiny_model(variant)
    same = model.encoder.word_embeddings.embeddings is model.decoder.word_embeddings.embeddings
    assert same == same_matrix


def test_bert2gpt_has_two_vocabularies():
    model = tiny_model("bert2gpt")
    assert model.encoder.spec.vocab == "bert" and model.decoder.spec.vocab == "gpt2"
    inputs = random_inputs(model)
    assert logits(model, inputs).shape[-1] == model.spec.decoder.vocab_size
    assert model.spec.encoder.vocab_size != model.spec.decoder.vocab_size


def test_gpt_is_decoder_only_and_logits_cover_target_only():
    model = tiny_model("gpt")
    assert model.encoder is None
    inputs = random_inputs(model, src_len=9, tgt_len=5)
    assert logits(model, inputs).shape[:2] == (2, 5)
    with pytest.raises(ValueError, match="no encoder"):
        model.encode(inputs["encoder_token_ids"], inputs["encoder_padding_mask"])


def test_styles_follow_the_families():
    model = tiny_model("bert2gpt")
    enc_block, dec_block = model.encoder.blocks[0], model.decoder.blocks[0]
    assert not enc_block.norm_first and enc_block.layer_norm_epsilon == 1e-12
    assert enc_block.approximate_gelu
    assert dec_block.norm_first and dec_block.layer_norm_epsilon == 1e-5
    assert model.decoder.final_norm is not None and model.encoder.final_norm is None
    assert model.encoder.embeddings.layer_norm is not None
    assert model.decoder.embeddings.layer_norm is None
    assert model.decoder.embeddings.token_type_embeddings is None
    roberta = tiny_model("robertaShare")
    assert roberta.encoder.embeddings.position_offset == 2
    assert not roberta.encoder.blocks[0].approximate_gelu
    assert roberta.encoder.blocks[0].layer_norm_epsilon == 1e-5


def test_custom_sizes_with_different_widths():
    """A wider encoder than decoder: cross-attention keys/values project between widths."""
    cfg = tiny_config("bert2gpt", encoder=StackOverrides(vocab_size=97, hidden_size=48, num_heads=4,
                                                          num_layers=3))
    model = build_model(cfg)
    assert model.encoder.spec.hidden_size == 48 and model.decoder.spec.hidden_size == 32
    assert len(model.encoder.blocks) == 3 and len(model.decoder.blocks) == 2
    key_kernel = model.decoder.blocks[0].cross_attention.key_dense.kernel
    assert tuple(key_kernel.shape) == (48, 4, 8)
    inputs = random_inputs(model)
    cached, full = greedy_cached_vs_full(model, inputs, steps=4)
    np.testing.assert_allclose(cached, full, atol=1e-5)


def test_sharing_requires_matching_shapes():
    cfg = tiny_config("bertShare", encoder=StackOverrides(vocab_size=97, num_layers=3))
    with pytest.raises(ConfigError, match="num_layers"):
        build_model(cfg)


def test_mixed_bfloat16_gives_float32_logits():
    model = tiny_model("bert2bert", dtype_policy="mixed_bfloat16")
    assert model.decoder.blocks[0].compute_dtype == "bfloat16"
    assert model.decoder.blocks[0].self_attention.query_dense.kernel.dtype == "float32"
    out = model(random_inputs(model))
    assert out.dtype == "float32"
    assert np.isfinite(ops.convert_to_numpy(out)).all()


@pytest.mark.parametrize("variant", ["bert2bert", "gpt"])
def test_large_size_shapes(variant):
    """`large` resolves to 24 layers, 1024 wide, 16 heads, 4096 inner (no weights built)."""
    from bert2bert.resolve import model_spec
    spec = model_spec(tiny_config(variant, size="large", num_layers=None, hidden_size=None,
                               num_heads=None, intermediate_size=None))
    assert (spec.decoder.num_layers, spec.decoder.hidden_size, spec.decoder.num_heads,
            spec.decoder.intermediate_size) == (24, 1024, 16, 4096)


@pytest.mark.parametrize("variant", ["bert2bert", "gpt", "bert2gpt"])
def test_decoding_state_compiles_with_xla(variant):
    """start_decoding/decode_step run inside tf.while_loop under XLA, same numbers as eager."""
    import tensorflow as tf

    model = tiny_model(variant)
    inputs = random_inputs(model)
    steps = 5

    def greedy(src, mask):
        state = model.start_decoding(src, mask, steps)
        out = tf.TensorArray(tf.float32, size=steps)

        def body(i, tok, state, out):
            step_logits, state = model.decode_step(state, tok, i)
            return i + 1, tf.cast(tf.argmax(step_logits, -1), tf.int32), state, out.write(i, step_logits)

        start = (tf.constant(0), tf.fill([tf.shape(src)[0]], 3), state, out)
        _, _, _, out = tf.while_loop(lambda i, *_: i < steps, body, start)
        return tf.transpose(out.stack(), [1, 0, 2])

    src, mask = inputs["encoder_token_ids"], inputs["encoder_padding_mask"]
    eager = greedy(src, mask).numpy()
    compiled = tf.function(greedy, jit_compile=True)(src, mask).numpy()
    np.testing.assert_allclose(compiled, eager, atol=1e-4)
    cached, _ = greedy_cached_vs_full(model, inputs, steps)
    np.testing.assert_allclose(eager, cached, atol=1e-5)


def test_share_embeddings_override():
    separate = tiny_model("bert2bert", share_embeddings=False)
    assert separate.spec.share == "none"
    assert separate.encoder.word_embeddings is not separate.decoder.word_embeddings
    joined = tiny_model("rnd2gpt", share_embeddings=True)
    assert joined.encoder.word_embeddings is joined.decoder.word_embeddings
    with pytest.raises(ConfigError, match="same vocab_size"):
        tiny_model("bert2gpt", share_embeddings=True)
    # Full sharing is the variant's nature and is not undone by this switch.
    assert tiny_model("bertShare", share_embeddings=False).spec.share == "all"


@pytest.mark.parametrize("variant,head", [("bert2bert", "tied"), ("gpt", "tied"),
                                          ("bert2bert", "lm_head"), ("bert2bert", "bias")])
def test_decoding_projection_equals_the_training_one(variant, head):
    """A decoding step's logits against the once-per-search transposed matrix (what
    `start_decoding` puts in the state) and against the stored matrix are `logits`'."""
    model = tiny_model(variant, output_head=head)
    inputs = random_inputs(model)
    state = model.start_decoding(inputs["encoder_token_ids"], inputs["encoder_padding_mask"], 4)
    word = model.decoder.word_embeddings.embeddings
    assert tuple(state.output_matrix.shape) == tuple(word.shape)[::-1]
    hidden = np.random.default_rng(1).normal(size=(3, word.shape[1])).astype("float32")
    expected = ops.convert_to_numpy(model.logits(hidden))
    for matrix in (state.output_matrix, None):
        np.testing.assert_allclose(ops.convert_to_numpy(model.decoding_logits(hidden, matrix)),
                                   expected, atol=1e-5)
