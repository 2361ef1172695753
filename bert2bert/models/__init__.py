"""Models: the stacks, the seq2seq model and the paper's grid by name."""
from bert2bert.models.loss import masked_cross_entropy
from bert2bert.models.parameters import ParameterCounts, count_parameters
from bert2bert.models.seq2seq import Seq2SeqModel, build_model, teacher_forcing_inputs
from bert2bert.models.specs import ModelSpec, StackSpec, resolve
from bert2bert.models.stacks import TransformerStack

__all__ = [
    "ModelSpec", "ParameterCounts", "Seq2SeqModel", "StackSpec", "TransformerStack",
    "build_model", "count_parameters", "masked_cross_entropy", "resolve",
    "teacher_forcing_inputs",
]
