"""Shared by the decoding tests: tiny random models, special ids that make the end token
likely or unlikely, Model Garden's beam search on our model, teacher-forced scores."""
import functools
import types

import keras
import numpy as np
import tensorflow as tf

from bert2bert.decoding import DecodingState, greedy_decode, length_penalty
from tests.helpers import random_inputs, tiny_model

START, PAD = 1, 0
NEVER = -1  # an end id no token equals: decoding runs to max_length


@functools.lru_cache(maxsize=None)
def setup(variant="bert2bert", batch=4, seed=0, initializer_range=0.5):
    """(model, source ids, source mask): a 2-layer, 32-wide random model whose large weights
    make peaky next-token distributions; row 0 of the source has padding."""
    keras.config.set_dtype_policy("float32")
    model = tiny_model(variant, seed=seed, initializer_range=initializer_range)
    inputs = random_inputs(model, batch=batch, seed=seed)
    return (model, tf.constant(inputs["encoder_token_ids"]),
            tf.constant(inputs["encoder_padding_mask"]))


def vocab_size(model):
    return model.spec.decoder.vocab_size


@functools.lru_cache(maxsize=None)
def token_counts(variant, max_length=12):
    """How often each token appears in the greedy outputs of `setup(variant)` when nothing
    ends them."""
    model, src, mask = setup(variant)
    ids, _ = greedy_decode(model, src, mask, max_length, START, NEVER)
    return np.bincount(ids.numpy().ravel(), minlength=vocab_size(model))


def frequent_token(variant):
    """The token greedy search produces most often: as end id, hypotheses do end."""
    return int(np.argmax(token_counts(variant)))


def unused_token(variant):
    """A token greedy search never produces: as end id, hypotheses run long."""
    return int(np.flatnonzero(token_counts(variant) == 0)[-1])


def first_choice(model, src, mask, row=0):
    """The most likely first token of `row`: as end id, the hypothesis would end at once."""
    state = model.start_decoding(src, mask, 1)
    logits, _ = model.decode_step(state, tf.fill([src.shape[0]], START), 0)
    return int(np.argmax(logits.numpy()[row]))


def official_beam_search(model, src, mask, *, beam_size, max_length, end_id, alpha):
    """`official...sequence_beam_search` on our model; returns (ids [B, K, max_length]
    without the start token, end token kept, zeros after it, scores [B, K]) as numpy."""
    from official.nlp.modeling.ops.beam_search import sequence_beam_search

    def per_row(state):  # its cache: a dict of per-row tensors, no one-per-search matrix
        return {"cache": state.cache, "constants": state.constants}

    state = per_row(model.start_decoding(src, mask, max_length))
    dtypes = tf.nest.map_structure(lambda t: t.dtype, state)
    as_float = functools.partial(tf.nest.map_structure, lambda t: tf.cast(t, tf.float32))

    def symbols_to_logits_fn(ids, i, cache):  # ... of float32 tensors
        cache = tf.nest.map_structure(lambda t, dtype: tf.cast(t, dtype), cache, dtypes)
        logits, cache = model.decode_step(DecodingState(**cache), ids[:, -1], i)
        return logits, as_float(per_row(cache))

    seq, scores = sequence_beam_search(symbols_to_logits_fn, tf.fill([src.shape[0]], START),
                                       as_float(state), vocab_size(model), beam_size, alpha,
                                       max_length, end_id)
    seq = seq.numpy()[:, :, 1:]
    seq = np.pad(seq, [(0, 0), (0, 0), (0, max_length - seq.shape[2])])
    return seq, scores.numpy()


def pad_after_end(ids, end_id, pad_id=PAD):
    """numpy: `pad_id` after the first `end_id` of each row (last axis)."""
    ids = np.array(ids)
    after = np.cumsum(ids == end_id, axis=-1) - (ids == end_id) > 0
    return np.where(after, pad_id, ids)


def teacher_forced_score(model, src, mask, tokens, alpha):
    """Sum of the log-probs of `tokens` (all of them, end token included) given the source,
    from one full forward pass, divided by the length penalty of len(tokens)."""
    tokens = np.asarray(tokens, "int32")
    decoder_in = np.concatenate([[START], tokens[:-1]]).astype("int32")[None]
    logits = model({"encoder_token_ids": src[None], "encoder_padding_mask": mask[None],
                    "decoder_token_ids": decoder_in,
                    "decoder_padding_mask": np.ones_like(decoder_in)}, training=False)
    log_probs = tf.nn.log_softmax(logits[0]).numpy()
    total = log_probs[np.arange(len(tokens)), tokens].sum()
    return total / float(length_penalty(len(tokens), alpha))


def has_repeated_ngram(tokens, n):
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(grams) != len(set(grams))


def special_tokens(end_id):
    return types.SimpleNamespace(start_id=START, end_id=end_id, pad_id=PAD)
