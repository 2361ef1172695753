"""Decoding in pure TensorFlow: greedy search, beam search and sampling.

The model is taken duck-typed: `state = model.start_decoding(source_ids, source_mask,
max_length)` and `logits, state = model.decode_step(state, token_ids, step)`, the state a
`DecodingState` (its `cache` changes per step, its `constants` never). Every
decoder is one `tf.while_loop` with fixed-shape loop variables, so it can be wrapped in
`tf.function(jit_compile=True)`.

    ids, lengths = greedy_decode(model, src, mask, 64, start_id, end_id, pad_id=pad_id)
    out = beam_search(model, src, mask, beam_size=4, max_length=64, start_id=start_id,
                      end_id=end_id, pad_id=pad_id, alpha=0.6)   # out["ids"][:, 0] is the best
    ids, lengths = sample_decode(model, src, mask, max_length=64, start_id=start_id,
                                 end_id=end_id, pad_id=pad_id, seed=1, top_p=0.9)
    ids, lengths = decode(model, src, mask, config.decode, tokenizer.special_tokens, 64)

Ids include the end token and hold `pad_id` after it; lengths count the tokens before it.
"""
from bert2bert.config import DecodeConfig
from bert2bert.decoding.beam_search import beam_search
from bert2bert.decoding.greedy import greedy_decode
from bert2bert.decoding.logits import length_penalty, never_generated
from bert2bert.decoding.state import DecodingState
from bert2bert.decoding.sampling import sample_decode

__all__ = ["DecodingState", "beam_search", "decode", "greedy_decode", "length_penalty",
           "never_generated",
           "sample_decode"]


def decode(model, source_ids, source_mask, decode_config: DecodeConfig, special_tokens,
           max_length=None, start_id=None, search=beam_search):
    """The best hypothesis per source as `decode_config` asks: greedy search when
    `beam_size` is 1, else beam search; the start and padding tokens are never output
    (`never_generated`). `special_tokens` has `start_id`, `end_id`, `pad_id`;
    `max_length` (Python int) defaults to `decode_config.max_length`; `start_id`, the model's
    first decoder input (`ModelSpec.start_id`), defaults to `special_tokens.start_id`;
    `search` stands in for `beam_search` (same arguments: the export's one traced search).

    Returns (ids int32 [B, max_length], lengths int32 [B]).
    """
    max_length = max_length or decode_config.max_length
    if not max_length:
        raise ValueError("decode needs a max_length (argument or decode_config.max_length)")
    start_id = special_tokens.start_id if start_id is None else start_id
    common = dict(start_id=start_id, end_id=special_tokens.end_id,
                  pad_id=special_tokens.pad_id, min_length=decode_config.min_length,
                  no_repeat_ngram_size=decode_config.no_repeat_ngram_size,
                  forbidden_ids=never_generated(special_tokens, start_id))
    if decode_config.beam_size == 1:
        return greedy_decode(model, source_ids, source_mask, max_length, **common)
    out = search(model, source_ids, source_mask, beam_size=decode_config.beam_size,
                 max_length=max_length, alpha=decode_config.alpha, n_best=1,
                 early_stopping=decode_config.early_stopping, **common)
    return out["ids"][:, 0], out["lengths"][:, 0]
