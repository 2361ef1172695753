"""The sequence-to-sequence model of the paper: encoder, decoder, tied output projection."""
import dataclasses

import keras
import tensorflow as tf
from keras import ops

from bert2bert.config import ModelConfig, model_config_from_dict
from bert2bert.layers import LanguageModelHead
from bert2bert.models.loss import masked_cross_entropy
from bert2bert.models.specs import ModelSpec, resolve
from bert2bert.models.stacks import TransformerStack
from bert2bert.precision import resolve_dtype_policy

INPUT_KEYS = ("encoder_token_ids", "encoder_padding_mask",
              "decoder_token_ids", "decoder_padding_mask")


def causal_mask(length, dtype="bool"):
    """[T, T] lower-triangular mask: query t sees keys 0..t."""
    idx = ops.arange(length)
    return ops.cast(idx[:, None] >= idx[None, :], dtype)


@keras.saving.register_keras_serializable(package="bert2bert")
class Seq2SeqModel(keras.Model):
    """One variant of the grid as a Keras model.

    Inputs (a dict, all [B, len]; token ids int32, masks 1 for real tokens):
        encoder_token_ids, encoder_padding_mask   the source (for `gpt`: the prefix)
        decoder_token_ids, decoder_padding_mask   the target shifted right (start token first)
    Output: float32 logits [B, T_dec, decoder vocab], position t predicting target t.

    For the decoder-only `gpt` variant the source and the target run through one
    GPT-2 stack as `[source, target]` (source padding skipped by the attention
    mask and the position ids); logits cover the target only.

    Incremental decoding: `state = start_decoding(src_ids, src_mask, max_len)`,
    then `logits, state = decode_step(state, token_ids, step)` for step 0, 1, ...
    The self-attention keys/values are cached; cross-attention keys/values are
    computed once per source. All state tensors have the batch first.

    Example:
        >>> from bert2bert.config import ModelConfig
        >>> cfg = ModelConfig(variant="bert2bert", num_layers=2, hidden_size=32,
        ...                   num_heads=2, intermediate_size=64)
        >>> model = Seq2SeqModel(cfg)
        >>> ids = ops.ones((2, 7), "int32")
        >>> logits = model({"encoder_token_ids": ids, "encoder_padding_mask": ids,
        ...                 "decoder_token_ids": ids, "decoder_padding_mask": ids})
        >>> tuple(logits.shape)
        (2, 7, 30522)
    """

    def __init__(self, config, label_smoothing=0.0, **kwargs):
        if isinstance(config, dict):
            config = model_config_from_dict(config)
        if config.dtype_policy == "auto":  # decided once, from this machine's hardware
            config = dataclasses.replace(
                config, dtype_policy=resolve_dtype_policy(config.dtype_policy).policy)
        self.model_config: ModelConfig = config
        self.label_smoothing = label_smoothing
        kwargs.setdefault("dtype", config.dtype_policy)
        kwargs.setdefault("name", config.variant)
        super().__init__(**kwargs)
        self.spec: ModelSpec = resolve(config)
        enc_spec, dec_spec, share = self.spec.encoder, self.spec.decoder, self.spec.share

        self.encoder = None
        if enc_spec is not None:
            self.encoder = TransformerStack(enc_spec, dtype=self.dtype_policy, name="encoder")
        self.decoder = TransformerStack(
            dec_spec,
            cross_attention=self.encoder is not None,
            word_embeddings=self.encoder.word_embeddings if share == "embeddings" else None,
            shared_from=self.encoder if share == "all" else None,
            dtype=self.dtype_policy,
            name="decoder",
        )
        self.output_head = None
        if self.spec.output_head == "lm_head":
            self.output_head = LanguageModelHead(
                dec_spec.hidden_size, dec_spec.vocab_size, dec_spec.approximate_gelu,
                dec_spec.layer_norm_epsilon, dec_spec.initializer_range,
                dtype=self.dtype_policy, name="output_head")

    @property
    def decoder_only(self):
        return self.encoder is None

    # ------------------------------------------------------------------ build

    def build(self, inputs_shape=None):
        src = (None, None)
        if self.encoder is not None:
            self.encoder.build(src)
            self.decoder.build(src, src + (self.spec.encoder.hidden_size,))
        else:
            self.decoder.build(src)
        if self.output_head is not None:
            self.output_head.build()
        self.built = True

    # ------------------------------------------------------------- full pass

    def encode(self, encoder_token_ids, encoder_padding_mask, training=None):
        """Encoder outputs [B, S, H_enc] (not available for the decoder-only `gpt`)."""
        if self.encoder is None:
            raise ValueError("the 'gpt' variant has no encoder: the source is a decoder prefix")
        mask = ops.cast(encoder_padding_mask, "bool")[:, None, :]
        return self.encoder(encoder_token_ids, self_mask=mask, training=training)

    def call(self, inputs, training=None):
        src_ids, src_mask, dec_ids, dec_mask = (inputs[k] for k in INPUT_KEYS)
        src_mask = ops.cast(src_mask, "bool")
        dec_mask = ops.cast(dec_mask, "bool")
        if self.decoder_only:
            ids = ops.concatenate([src_ids, dec_ids], axis=1)
            mask = ops.concatenate([src_mask, dec_mask], axis=1)
            positions = ops.maximum(ops.cumsum(ops.cast(mask, "int32"), axis=1) - 1, 0)
            self_mask = ops.logical_and(causal_mask(ops.shape(ids)[1])[None], mask[:, None, :])
            hidden = self.decoder(ids, self_mask=self_mask, position_ids=positions,
                                  training=training)
            hidden = hidden[:, ops.shape(src_ids)[1]:]
        else:
            encoded = self.encode(src_ids, src_mask, training=training)
            self_mask = ops.logical_and(causal_mask(ops.shape(dec_ids)[1])[None],
                                        dec_mask[:, None, :])
            hidden = self.decoder(dec_ids, self_mask=self_mask, encoder_output=encoded,
                                  cross_mask=src_mask[:, None, :], training=training)
        return self.logits(hidden)

    def logits(self, hidden, float32_matmul=False):
        """Output projection tied to the decoder's word embeddings; float32 logits.

        With `model.output_head=lm_head` the hidden states pass BERT's head transform first
        and the output bias is added. The matrix is used as stored, [vocab, hidden] (no
        transposed copy per call). With `float32_matmul` (decoding: a few rows per step) the
        product runs in float32 and skips casting the whole matrix to a bfloat16 compute
        dtype at every step.
        """
        if self.output_head is not None:
            hidden = self.output_head.transform(hidden)
        kernel = self.decoder.word_embeddings.embeddings
        dtype = "float32" if float32_matmul else hidden.dtype
        shape = ops.shape(hidden)
        rows = ops.reshape(ops.cast(hidden, dtype), (-1, shape[-1]))
        # A 2-D product with the transpose folded in (an einsum with "..." here has a gradient
        # that broadcasts the matrix over every position: gigabytes).
        product = tf.linalg.matmul(rows, ops.cast(kernel, dtype), transpose_b=True)
        if self.output_head is not None:
            product = product + ops.cast(self.output_head.bias, dtype)
        return ops.reshape(ops.cast(product, "float32"), (*shape[:-1], kernel.shape[0]))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Token cross-entropy over real target tokens (from `decoder_padding_mask`)."""
        if self.loss is not None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        weights = x["decoder_padding_mask"] if sample_weight is None else sample_weight
        loss = masked_cross_entropy(y, y_pred, weights, self.label_smoothing)
        return ops.add_n([loss] + list(self.losses)) if self.losses else loss

    # -------------------------------------------------- incremental decoding

    def _new_cache(self, batch, length):
        spec = self.decoder.spec
        shape = (batch, spec.num_heads, length, spec.hidden_size // spec.num_heads)
        zeros = ops.zeros(shape, dtype=self.compute_dtype)
        return [(zeros, zeros) for _ in self.decoder.blocks]

    def start_decoding(self, encoder_token_ids, encoder_padding_mask, max_target_length):
        """Encodes the source once; returns the decoding state for `decode_step`."""
        batch = ops.shape(encoder_token_ids)[0]
        src_mask = ops.cast(encoder_padding_mask, "bool")
        if not self.decoder_only:
            encoded = self.encode(encoder_token_ids, src_mask)
            return {
                "self": self._new_cache(batch, max_target_length),
                "cross": self.decoder.cross_key_values(encoded),
                "cross_mask": src_mask[:, None, :],
            }
        # gpt: run the prefix once, filling the first S cache positions.
        src_len = ops.shape(encoder_token_ids)[1]
        positions = ops.maximum(ops.cumsum(ops.cast(src_mask, "int32"), axis=1) - 1, 0)
        total = src_len + max_target_length
        key_is_prefix = ops.arange(total)[None, None, :] < src_len
        self_mask = ops.logical_and(
            ops.pad(causal_mask(src_len), [[0, 0], [0, max_target_length]])[None],
            ops.logical_and(key_is_prefix, ops.pad(src_mask, [[0, 0], [0, max_target_length]])[:, None, :]),
        )
        _, caches = self.decoder(encoder_token_ids, self_mask=self_mask, position_ids=positions,
                                 caches=self._new_cache(batch, total), cache_index=0)
        return {
            "self": caches,
            "prefix_mask": src_mask,
            "prefix_length": ops.sum(ops.cast(src_mask, "int32"), axis=1),
        }

    def decode_step(self, state, token_ids, step):
        """Feeds `token_ids` [B] at target position `step`; returns (logits [B, V], state)."""
        token_ids = ops.reshape(token_ids, (-1, 1))
        step = ops.cast(step, "int32")
        cache_len = ops.shape(state["self"][0][0])[2]
        if self.decoder_only:
            src_len = ops.shape(state["prefix_mask"])[1]
            target_visible = ops.arange(cache_len - src_len) <= step
            visible = ops.concatenate(
                [state["prefix_mask"],
                 ops.broadcast_to(target_visible[None], (ops.shape(token_ids)[0], cache_len - src_len))],
                axis=1)
            hidden, caches = self.decoder(
                token_ids, self_mask=visible[:, None, :],
                position_ids=(state["prefix_length"] + step)[:, None],
                caches=state["self"], cache_index=src_len + step)
        else:
            visible = (ops.arange(cache_len) <= step)[None, None, :]
            hidden, caches = self.decoder(
                token_ids, self_mask=visible, position_ids=ops.reshape(step, (1, 1)),
                cross_caches=state["cross"], cross_mask=state["cross_mask"],
                caches=state["self"], cache_index=step)
        state = dict(state, self=caches)
        return self.logits(hidden[:, 0], float32_matmul=True), state

    # ------------------------------------------------------------ saving

    def get_config(self):
        return {"config": dataclasses.asdict(self.model_config),
                "label_smoothing": self.label_smoothing,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_model(config: ModelConfig, label_smoothing=0.0) -> Seq2SeqModel:
    """Builds (creates all variables of) the model for `config`."""
    model = Seq2SeqModel(config, label_smoothing=label_smoothing)
    model.build()
    return model


def teacher_forcing_inputs(source_ids, source_mask, target_ids, target_mask, start_id):
    """Model inputs and labels for training: the decoder reads the target shifted right.

    Returns `(inputs, labels)`; `labels` is `target_ids` and the loss counts the
    positions where `target_mask` is 1.
    """
    batch = ops.shape(target_ids)[0]
    start = ops.full((batch, 1), start_id, dtype=target_ids.dtype)
    decoder_ids = ops.concatenate([start, target_ids[:, :-1]], axis=1)
    inputs = {
        "encoder_token_ids": source_ids,
        "encoder_padding_mask": source_mask,
        "decoder_token_ids": decoder_ids,
        "decoder_padding_mask": target_mask,
    }
    return inputs, target_ids
