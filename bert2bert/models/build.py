"""Build the model of a `ModelSpec` (or of a config, resolved once by `bert2bert.resolve`)."""
from typing import Mapping, Optional, Union

from bert2bert.config import ModelConfig
from bert2bert.models.encoder_decoder import EncoderDecoderLM
from bert2bert.models.prefix_lm import PrefixLM
from bert2bert.models.seq2seq import Seq2SeqModel
from bert2bert.precision import resolve_dtype_policy
from bert2bert.resolve import model_spec
from bert2bert.spec import ArchSpec, ModelSpec


def model_class(spec: ModelSpec):
    """`PrefixLM` for a decoder-only spec, else `EncoderDecoderLM`."""
    return PrefixLM if spec.decoder_only else EncoderDecoderLM


def build_model(config: Union[ModelConfig, ModelSpec], label_smoothing: float = 0.0,
                dtype_policy: Optional[str] = None,
                checkpoints: Optional[Mapping[str, Optional[ArchSpec]]] = None) -> Seq2SeqModel:
    """Builds (creates all variables of) the model of `config`.

    Args:
        config: a `ModelConfig` (resolved with `checkpoints`, the architectures of its
            checkpoints by side) or a ready `ModelSpec`.
        dtype_policy: the Keras policy; default: the config's (`auto` decided from this
            machine's hardware), float32 for a bare spec.
    """
    if isinstance(config, ModelConfig):
        spec = model_spec(config, checkpoints)
        dtype_policy = dtype_policy or resolve_dtype_policy(config.dtype_policy).policy
    else:
        spec = config
    model = model_class(spec)(spec, label_smoothing=label_smoothing,
                              dtype=dtype_policy or "float32")
    model.build()
    return model
