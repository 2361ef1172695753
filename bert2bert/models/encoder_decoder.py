"""An encoder and a decoder with cross-attention: every variant of the grid but `gpt`."""
from typing import NamedTuple

import keras
from keras import ops

from bert2bert.decoding.state import DecodingState
from bert2bert.models.seq2seq import INPUT_KEYS, Seq2SeqModel, causal_mask


class SourceConstants(NamedTuple):
    """Computed once per source, kept once per source (not per beam): per-block
    cross-attention (keys [B, N, H, S], values [B, N, S, H]) and the mask [B, 1, S]."""

    cross_key_values: list
    cross_mask: object  # bool [B, 1, S]


@keras.saving.register_keras_serializable(package="bert2bert")
class EncoderDecoderLM(Seq2SeqModel):
    """Encoder, decoder with cross-attention, tied output projection (`Seq2SeqModel`).

    Example:
        >>> from bert2bert.resolve import model_spec
        >>> from bert2bert.config import ModelConfig
        >>> spec = model_spec(ModelConfig(variant="bert2bert", num_layers=2, hidden_size=32,
        ...                               num_heads=2, intermediate_size=64))
        >>> model = EncoderDecoderLM(spec)
        >>> ids = ops.ones((2, 7), "int32")
        >>> logits = model({"encoder_token_ids": ids, "encoder_padding_mask": ids,
        ...                 "decoder_token_ids": ids, "decoder_padding_mask": ids})
        >>> tuple(logits.shape)
        (2, 7, 30522)
    """

    def __init__(self, spec, label_smoothing=0.0, **kwargs):
        super().__init__(spec, label_smoothing, **kwargs)
        if self.spec.decoder_only:
            raise ValueError(f"{self.spec.variant} has no encoder: build a PrefixLM")
        share = self.spec.share
        self.encoder = self._stack(self.spec.encoder, "encoder")
        self.decoder = self._stack(
            self.spec.decoder, "decoder", cross_attention=True,
            word_embeddings=self.encoder.word_embeddings if share == "embeddings" else None,
            shared_from=self.encoder if share == "all" else None)
        self._make_output_head()

    def _build_stacks(self, ids_shape):
        self.encoder.build(ids_shape)
        self.decoder.build(ids_shape, ids_shape + (self.spec.encoder.hidden_size,))

    def encode(self, encoder_token_ids, encoder_padding_mask, training=None):
        """Encoder outputs [B, S, H_enc]."""
        mask = ops.cast(encoder_padding_mask, "bool")[:, None, :]
        return self.encoder(encoder_token_ids, self_mask=mask, training=training)

    def call(self, inputs, training=None):
        src_ids, src_mask, dec_ids, dec_mask = (inputs[k] for k in INPUT_KEYS)
        src_mask = ops.cast(src_mask, "bool")
        dec_mask = ops.cast(dec_mask, "bool")
        encoded = self.encode(src_ids, src_mask, training=training)
        self_mask = ops.logical_and(causal_mask(ops.shape(dec_ids)[1])[None],
                                    dec_mask[:, None, :])
        positions = ops.arange(ops.shape(dec_ids)[1], dtype="int32")[None, :]
        hidden = self.decoder(dec_ids, self_mask=self_mask, encoder_output=encoded,
                              position_ids=positions + self.spec.decoder_position_shift,
                              cross_mask=src_mask[:, None, :], training=training)
        return self.logits(hidden, training=training)

    def start_decoding(self, encoder_token_ids, encoder_padding_mask,
                       max_target_length, beams: int = 1) -> DecodingState:
        """Encodes the source once; the cross-attention keys/values are the constants, once
        per source; the cache has `beams` rows per source."""
        src_mask = ops.cast(encoder_padding_mask, "bool")
        encoded = self.encode(encoder_token_ids, src_mask)
        constants = SourceConstants(self.decoder.cross_key_values(encoded), src_mask[:, None, :])
        batch = ops.shape(encoder_token_ids)[0]
        return DecodingState(self._new_cache(batch * beams, max_target_length), constants,
                             self.output_matrix())

    def decode_step(self, state: DecodingState, token_ids, step):
        """Feeds `token_ids` [rows] at target position `step`; returns (logits [rows, V],
        state). The rows of a source (its beams) are consecutive; the cross-attention keys
        and values may have one row per source or one per row."""
        token_ids = ops.reshape(token_ids, (-1, 1))
        step = ops.cast(step, "int32")
        cache_len = ops.shape(state.cache[0][0])[2]
        visible = (ops.arange(cache_len) <= step)[None, None, :]
        constants = state.constants
        hidden, cache = self.decoder(
            token_ids, self_mask=visible,
            position_ids=ops.reshape(step + self.spec.decoder_position_shift, (1, 1)),
            cross_caches=constants.cross_key_values, cross_mask=constants.cross_mask,
            caches=state.cache, cache_index=step)
        return (self.decoding_logits(hidden[:, 0], state.output_matrix),
                state.with_cache(cache))
