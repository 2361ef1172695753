"""Models: the stacks and the grid's two model kinds, built from a `ModelSpec`."""
from bert2bert.models.build import build_model, model_class
from bert2bert.models.encoder_decoder import EncoderDecoderLM
from bert2bert.models.loss import masked_cross_entropy
from bert2bert.models.parameters import ParameterCounts, count_parameters
from bert2bert.parameters import parameters_from_spec
from bert2bert.models.prefix_lm import PrefixLM
from bert2bert.models.seq2seq import Seq2SeqModel, teacher_forcing_inputs
from bert2bert.models.stacks import TransformerStack

__all__ = [
    "EncoderDecoderLM", "ParameterCounts", "PrefixLM", "Seq2SeqModel", "TransformerStack",
    "build_model", "count_parameters", "masked_cross_entropy", "model_class",
    "parameters_from_spec",
    "teacher_forcing_inputs",
]
