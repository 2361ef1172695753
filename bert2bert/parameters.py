"""Parameter accounting in the form of the paper's Table 1 by arithmetic on a `ModelSpec`:
instant, no TensorFlow (`bert2bert variants`); equal to counting a built model's variables
(`bert2bert.models.count_parameters`, tested for every variant)."""
import dataclasses
from typing import Optional, Tuple

from bert2bert.spec import ArchSpec, ModelSpec

FLOAT32_BYTES = 4  # variables are float32 under every policy (mixed policies compute only)


@dataclasses.dataclass(frozen=True)
class ParameterCounts:
    """Counts of unique parameters (a shared variable counts once)."""

    total: int
    embedding: int  # word, position and token-type tables and the embedding LayerNorm
    from_checkpoint: int  # warm-startable from a public checkpoint
    random: int  # randomly initialised (random stacks and all cross-attention)
    variables: int  # number of unique variables
    bytes: int  # their total size in memory


@dataclasses.dataclass(frozen=True)
class _Part:
    parameters: int = 0
    variables: int = 0

    def __add__(self, other: "_Part") -> "_Part":
        return _Part(self.parameters + other.parameters, self.variables + other.variables)


def _dense(inputs: int, outputs: int) -> _Part:  # kernel and bias
    return _Part(inputs * outputs + outputs, 2)


def _norm(width: int) -> _Part:  # gamma and beta
    return _Part(2 * width, 2)


def _embeddings(s: ArchSpec, own_word_matrix: bool) -> _Part:
    part = _Part(s.max_position_embeddings * s.hidden_size, 1)
    if own_word_matrix:
        part += _Part(s.vocab_size * s.hidden_size, 1)
    if s.type_vocab_size:
        part += _Part(s.type_vocab_size * s.hidden_size, 1)
    if s.embedding_layer_norm:
        part += _norm(s.hidden_size)
    return part


def _blocks(s: ArchSpec) -> _Part:
    H, I = s.hidden_size, s.intermediate_size
    block = (_dense(H, H) + _dense(H, H) + _dense(H, H) + _dense(H, H) + _norm(H)
             + _dense(H, I) + _dense(I, H) + _norm(H))
    part = _Part(block.parameters * s.num_layers, block.variables * s.num_layers)
    return part + (_norm(H) if s.final_layer_norm else _Part())


def _cross_attention(s: ArchSpec, encoder_width: int) -> _Part:
    H = s.hidden_size
    block = _dense(H, H) + _dense(encoder_width, H) + _dense(encoder_width, H) + _dense(H, H)
    block += _norm(H)
    return _Part(block.parameters * s.num_layers, block.variables * s.num_layers)


def _head(s: ArchSpec, output_head: str) -> _Part:
    bias = _Part(s.vocab_size, 1)
    if output_head == "bias":
        return bias
    if output_head == "lm_head":
        return _dense(s.hidden_size, s.hidden_size) + _norm(s.hidden_size) + bias
    return _Part()


def parameters_from_spec(spec: ModelSpec) -> ParameterCounts:
    """The `count_parameters` of the model `spec` describes, by arithmetic (no model built)."""
    enc, dec = spec.encoder, spec.decoder
    sides: Tuple[Tuple[Optional[ArchSpec], bool, _Part, _Part], ...] = ()
    cross = _Part()
    if enc is not None:
        sides += ((enc, spec.encoder_warm, _embeddings(enc, True), _blocks(enc)),)
        cross = _cross_attention(dec, enc.hidden_size)
    if spec.share == "all":
        dec_embeddings, dec_blocks = _Part(), _Part()
    else:
        dec_embeddings = _embeddings(dec, own_word_matrix=spec.share != "embeddings")
        dec_blocks = _blocks(dec)
    sides += ((dec, spec.decoder_warm, dec_embeddings, dec_blocks),)
    head = _head(dec, spec.output_head)
    total = cross + head
    warm = head.parameters if spec.decoder_warm else 0
    embedding = 0
    for _, is_warm, embeddings, blocks in sides:
        total += embeddings + blocks
        embedding += embeddings.parameters
        if is_warm:
            warm += embeddings.parameters + blocks.parameters
    if spec.share != "none" and spec.decoder_warm and not spec.encoder_warm:
        # A variable of both stacks counts as warm-startable when either stack is warm: the
        # one word matrix (embeddings), or the whole shared stack (all).
        enc_embeddings, enc_blocks = sides[0][2], sides[0][3]
        warm += (enc_embeddings.parameters + enc_blocks.parameters if spec.share == "all"
                 else enc.vocab_size * enc.hidden_size)
    return ParameterCounts(total=total.parameters, embedding=embedding, from_checkpoint=warm,
                           random=total.parameters - warm, variables=total.variables,
                           bytes=total.parameters * FLOAT32_BYTES)
