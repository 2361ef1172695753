"""bert2bert: warm-started Transformer encoder-decoders in Keras 3.

Rothe, Narayan, Severyn, "Leveraging Pre-trained Checkpoints for Sequence
Generation Tasks", TACL 2020. The paper's whole grid (rnd2rnd ... roberta2gpt)
at base, large or any custom size.

    >>> import bert2bert
    >>> cfg = bert2bert.load_config("configs/models/bertShare.yaml",
    ...                             ["model.num_layers=2", "model.hidden_size=64",
    ...                              "model.num_heads=2", "model.intermediate_size=128"])
    >>> model = bert2bert.build_model(cfg.model)
    >>> bert2bert.count_parameters(model).total > 0
    True
"""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's best-fit-with-coalescing allocator for CPU tensors too (as on GPUs), unless the
# environment says otherwise: it keeps freed buffers for the next step instead of handing
# every large one back to the C library, which returns it to the system and page-faults it in
# again. Read by TensorFlow at its first operation: effective when bert2bert is imported before
# any tensor exists. What it changed on W1: README, "Speed against the peer".
# TF_CPU_ALLOCATOR_USE_BFC=false turns it off; TF_CPU_BFC_MEM_LIMIT_IN_MB caps it (TensorFlow's
# default: 64 GiB).
_os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

__version__ = "0.1.0"

from bert2bert.lazy import lazy_exports  # noqa: E402

# Public names and the module that defines each. Loaded on first use, so that
# `import bert2bert` (and the CLI's start-up) does not pay for TensorFlow.
_EXPORTS = {
    "bert2bert.config": ["Config", "ConfigError", "DecodeConfig", "ModelConfig",
                         "OptimizerConfig", "StackOverrides", "TaskConfig", "TrainConfig",
                         "load_config"],
    "bert2bert.grid": ["FAMILIES", "SIZES", "VARIANTS", "VARIANT_NAMES"],
    "bert2bert.spec": ["ArchSpec", "ModelSpec"],
    "bert2bert.resolve": ["model_spec"],
    "bert2bert.parameters": ["ParameterCounts", "parameters_from_spec"],
    "bert2bert.models": ["EncoderDecoderLM", "PrefixLM", "Seq2SeqModel", "build_model",
                         "count_parameters", "masked_cross_entropy", "teacher_forcing_inputs"],
    "bert2bert.factory": ["warm_started"],
    "bert2bert.text": ["tokenizer_from_files"],
    "bert2bert.checkpoints": ["CheckpointError", "WarmStartReport", "build_warm_started_model",
                              "open_checkpoint"],
    "bert2bert.data": ["load_examples", "make_dataset"],
    "bert2bert.metrics": ["compute_metrics"],
    "bert2bert.training.loop": ["train"],
    "bert2bert.evaluation": ["evaluate"],
    "bert2bert.decoding": ["beam_search", "greedy_decode", "sample_decode"],
    "bert2bert.export": ["Generator", "export_run", "predict_file", "predict_lines"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
