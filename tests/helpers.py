"""Test helpers: tiny configs, random inputs, the ../shared folder."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bert2bert import grid  # noqa: E402
from bert2bert.config import ModelConfig, StackOverrides  # noqa: E402
from bert2bert.models import build_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")

# Tiny vocabularies keep the tests fast; two different sizes where a variant has two.
TINY_VOCAB = {"bert": 97, "roberta": 89, "gpt2": 113}


def tiny_config(variant, **overrides) -> ModelConfig:
    """A 2-layer, 32-wide model of `variant`: small vocabularies, no dropout, and weights
    large enough (stddev 0.2) that every dependency shows in the logits."""
    spec = grid.VARIANTS[variant]
    enc_vocab = TINY_VOCAB[spec.encoder_vocab] if spec.encoder_vocab else None
    values = dict(
        variant=variant, num_layers=2, hidden_size=32, num_heads=4, intermediate_size=64,
        max_position_embeddings=64, dropout=0.0, attention_dropout=0.0, initializer_range=0.2,
        encoder=StackOverrides(vocab_size=enc_vocab),
        decoder=StackOverrides(vocab_size=TINY_VOCAB[spec.decoder_vocab]),
    )
    values.update(overrides)
    return ModelConfig(**values)


def tiny_model(variant, seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    return build_model(tiny_config(variant, **overrides))


def random_inputs(model, batch=2, src_len=9, tgt_len=7, seed=0, src_pad=2):
    """Model inputs with random ids; the last `src_pad` source positions of row 0 are padding."""
    rng = np.random.default_rng(seed)
    enc_vocab = (model.spec.encoder or model.spec.decoder).vocab_size
    dec_vocab = model.spec.decoder.vocab_size
    src_mask = np.ones((batch, src_len), "int32")
    if src_pad:
        src_mask[0, -src_pad:] = 0
    return {
        "encoder_token_ids": rng.integers(1, enc_vocab, (batch, src_len)).astype("int32") * src_mask,
        "encoder_padding_mask": src_mask,
        "decoder_token_ids": rng.integers(1, dec_vocab, (batch, tgt_len)).astype("int32"),
        "decoder_padding_mask": np.ones((batch, tgt_len), "int32"),
    }


def shared_path(*parts):
    """A file in ../shared; skips when absent unless BERT2BERT_REQUIRE_SHARED=1 (CI)."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        if os.environ.get("BERT2BERT_REQUIRE_SHARED") == "1":
            raise FileNotFoundError(f"{path} is required (BERT2BERT_REQUIRE_SHARED=1)")
        pytest.skip(f"{path} not present")
    return path


def one_line_error(fn, *fragments):
    """Runs `fn`, expecting a one-line CheckpointError that contains every fragment."""
    import pytest

    from bert2bert.checkpoints import CheckpointError

    with pytest.raises(CheckpointError) as err:
        fn()
    message = str(err.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message
