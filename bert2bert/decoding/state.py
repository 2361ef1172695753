"""The state a decoder carries from one step to the next (the models' decoding protocol).

    state = model.start_decoding(source_ids, source_mask, max_length, beams=1)
    logits, state = model.decode_step(state, token_ids, step)

`start_decoding` makes the state of `beams` hypotheses per source: the cache has one row per
hypothesis, source-major (row `b * beams + k`, the rows `decode_step` takes and returns).
Only `cache` changes from step to step (beam search reorders its rows with the beams);
`constants` are computed once per source and never change: the model may keep them once per
source (the encoder-decoder keeps its cross-attention keys and values so, not a copy per
beam) or once per row (the prefix LM), and other code never looks inside. `output_matrix`
is made once per search, not per row: a search that keeps a copy of every state tensor per
hypothesis (Model Garden's `sequence_beam_search`) leaves it out (None), and `decode_step`
then projects with the stored embedding matrix instead (the same logits, a slower product).
"""
from typing import Any, List, NamedTuple, Tuple

KeyValues = Tuple[Any, Any]  # (keys, values), each [batch, heads, length, head_size]


class DecodingState(NamedTuple):
    """cache: per block the self-attention (keys, values) of every position so far, one row
    per hypothesis.
    constants: what the model computed once per source (cross-attention keys and values,
    the source mask, a prefix length...), a nest the decoders never look inside.
    output_matrix: the tied output projection, float32 [hidden, vocab]
    (`Seq2SeqModel.output_matrix`), or None."""

    cache: List[KeyValues]
    constants: Any
    output_matrix: Any = None

    def with_cache(self, cache: List[KeyValues]) -> "DecodingState":
        return self._replace(cache=cache)
