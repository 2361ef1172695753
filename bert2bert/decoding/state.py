"""The state a decoder carries from one step to the next (the models' decoding protocol).

    state = model.start_decoding(source_ids, source_mask, max_length)   # DecodingState
    logits, state = model.decode_step(state, token_ids, step)

Only `cache` changes from step to step (beam search reorders it with the beams); `constants`
are computed once per source and never change. Both are nests of tensors with the batch
first, so `tf.nest.map_structure` can repeat them per beam.
"""
from typing import Any, List, NamedTuple, Tuple

KeyValues = Tuple[Any, Any]  # (keys, values), each [batch, heads, length, head_size]


class DecodingState(NamedTuple):
    """cache: per block the self-attention (keys, values) of every position so far.
    constants: what the model computed once per source (cross-attention keys and values,
    the source mask, a prefix length...), a nest the decoders never look inside."""

    cache: List[KeyValues]
    constants: Any

    def with_cache(self, cache: List[KeyValues]) -> "DecodingState":
        return self._replace(cache=cache)
