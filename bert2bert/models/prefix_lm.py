"""A decoder-only model whose source is a prefix of its own sequence: the grid's `gpt`."""
from typing import NamedTuple

import keras
from keras import ops, tree

from bert2bert.decoding.state import DecodingState
from bert2bert.models.seq2seq import INPUT_KEYS, Seq2SeqModel, causal_mask


class PrefixConstants(NamedTuple):
    """Computed once per prefix: its padding mask [B, S] and its real length [B]."""

    prefix_mask: object
    prefix_length: object


@keras.saving.register_keras_serializable(package="bert2bert")
class PrefixLM(Seq2SeqModel):
    """One GPT-2 stack over `[source, target]` (`Seq2SeqModel`).

    The source padding is skipped by the attention mask and the position ids, so a padded
    source gives the same logits as an unpadded one; the logits cover the target only.
    While decoding, the prefix fills the first S cache positions once.
    """

    def __init__(self, spec, label_smoothing=0.0, **kwargs):
        super().__init__(spec, label_smoothing, **kwargs)
        if not self.spec.decoder_only:
            raise ValueError(f"{self.spec.variant} has an encoder: build an EncoderDecoderLM")
        self.encoder = None
        self.decoder = self._stack(self.spec.decoder, "decoder")
        self._make_output_head()

    def _build_stacks(self, ids_shape):
        self.decoder.build(ids_shape)

    def encode(self, encoder_token_ids, encoder_padding_mask, training=None):
        raise ValueError(f"the {self.spec.variant!r} variant has no encoder: the source is a "
                         "prefix of the decoder's sequence")

    def call(self, inputs, training=None):
        src_ids, src_mask, dec_ids, dec_mask = (inputs[k] for k in INPUT_KEYS)
        ids = ops.concatenate([src_ids, dec_ids], axis=1)
        mask = ops.concatenate([ops.cast(src_mask, "bool"), ops.cast(dec_mask, "bool")], axis=1)
        positions = ops.maximum(ops.cumsum(ops.cast(mask, "int32"), axis=1) - 1, 0)
        self_mask = ops.logical_and(causal_mask(ops.shape(ids)[1])[None], mask[:, None, :])
        hidden = self.decoder(ids, self_mask=self_mask, position_ids=positions,
                              training=training)
        return self.logits(hidden[:, ops.shape(src_ids)[1]:], training=training)

    def start_decoding(self, encoder_token_ids, encoder_padding_mask,
                       max_target_length, beams: int = 1) -> DecodingState:
        """Runs the prefix once, filling the first S positions of the cache; with `beams`,
        the cache and the constants are repeated per beam (row `b * beams + k`)."""
        batch = ops.shape(encoder_token_ids)[0]
        src_mask = ops.cast(encoder_padding_mask, "bool")
        src_len = ops.shape(encoder_token_ids)[1]
        positions = ops.maximum(ops.cumsum(ops.cast(src_mask, "int32"), axis=1) - 1, 0)
        total = src_len + max_target_length
        key_is_prefix = ops.arange(total)[None, None, :] < src_len
        padded_mask = ops.pad(src_mask, [[0, 0], [0, max_target_length]])[:, None, :]
        self_mask = ops.logical_and(
            ops.pad(causal_mask(src_len), [[0, 0], [0, max_target_length]])[None],
            ops.logical_and(key_is_prefix, padded_mask))
        _, cache = self.decoder(encoder_token_ids, self_mask=self_mask, position_ids=positions,
                                caches=self._new_cache(batch, total), cache_index=0)
        constants = PrefixConstants(src_mask, ops.sum(ops.cast(src_mask, "int32"), axis=1))
        if beams > 1:
            cache, constants = tree.map_structure(lambda t: ops.repeat(t, beams, axis=0),
                                                  (cache, constants))
        return DecodingState(cache, constants, self.output_matrix())

    def decode_step(self, state: DecodingState, token_ids, step):
        """Feeds `token_ids` [B] at target position `step`; returns (logits [B, V], state)."""
        token_ids = ops.reshape(token_ids, (-1, 1))
        step = ops.cast(step, "int32")
        prefix = state.constants
        cache_len = ops.shape(state.cache[0][0])[2]
        src_len = ops.shape(prefix.prefix_mask)[1]
        target_visible = ops.arange(cache_len - src_len) <= step
        visible = ops.concatenate(
            [prefix.prefix_mask,
             ops.broadcast_to(target_visible[None],
                              (ops.shape(token_ids)[0], cache_len - src_len))], axis=1)
        hidden, cache = self.decoder(
            token_ids, self_mask=visible[:, None, :],
            position_ids=(prefix.prefix_length + step)[:, None],
            caches=state.cache, cache_index=src_len + step)
        return (self.decoding_logits(hidden[:, 0], state.output_matrix),
                state.with_cache(cache))
