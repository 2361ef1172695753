"""Data for the paper's tasks: examples, TFDS builders, featurisation, built-in data.

    load_examples(task, split)            -> {"source", "target"} tf.string examples
    featurize(examples, src_tok, tgt_tok, max_src, max_tgt)  -> (inputs, labels), unpadded
    batch_examples(features, batch_size, max_src, max_tgt, pad_ids)  -> padded batches
    make_dataset(task, split, src_tok, tgt_tok, batch_size, training=True, seed=1)
    builtin_examples("fusion", "train")   -> [(source, target)] from Python's help texts

Using the TFDS names (`load_examples`, `builder_for`, ...) registers the `wikisplit` and
`discofuse` TFDS builders; `preflight` and `bert2bert.data.files` run without TensorFlow.

    >>> from bert2bert.data.builtin import fuse  # the rule behind the built-in fusion pairs
    >>> fuse("Lists are mutable.", "However, tuples are not.")
    'Lists are mutable, but tuples are not.'
"""
from bert2bert.lazy import lazy_exports

# Public names and the module that defines each, loaded on first use: the checks of
# `bert2bert.data.preflight` and `bert2bert.data.files` run without TensorFlow.
_EXPORTS = {
    "bert2bert.data.builtin": ["builtin_examples", "builtin_fingerprint",
                               "write_builtin_task_files", "write_builtin_tsv"],
    "bert2bert.data.errors": ["DataError", "DataFormatError", "DataUnavailableError"],
    "bert2bert.data.features": ["PairEncoder", "batch_examples", "default_bucket_boundaries",
                                "featurize", "make_dataset", "pad_ids_of", "source_special_ids"],
    "bert2bert.data.files": ["key_fields"],
    "bert2bert.data.preflight": ["preflight"],
    "bert2bert.data.tasks": ["examples_from_pairs", "load_examples", "load_jsonl", "load_tfds",
                             "load_tsv"],
    "bert2bert.data.tfds.preparation": ["prepare"],
    "bert2bert.data.tfds.registry": ["builder_for", "own_builder_names"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
