"""Data for the paper's tasks: examples, TFDS builders, featurisation, built-in data.

    load_examples(task, split)            -> {"source", "target"} tf.string examples
    featurize(examples, src_tok, tgt_tok, max_src, max_tgt)  -> (inputs, labels), unpadded
    batch_examples(features, batch_size, max_src, max_tgt, pad_ids)  -> padded batches
    make_dataset(task, split, src_tok, tgt_tok, batch_size, training=True, seed=1)
    builtin_examples("fusion", "train")   -> [(source, target)] from Python's help texts

Importing this package registers the `wikisplit` and `discofuse` TFDS builders.

    >>> from bert2bert.data.builtin import fuse  # the rule behind the built-in fusion pairs
    >>> fuse("Lists are mutable.", "However, tuples are not.")
    'Lists are mutable, but tuples are not.'
"""
from bert2bert.data.builtin import (builtin_examples, builtin_fingerprint, write_builtin_task_files,
                                    write_builtin_tsv)
from bert2bert.data.features import (PairEncoder, batch_examples, default_bucket_boundaries,
                                     featurize, make_dataset, pad_ids_of, source_special_ids)
from bert2bert.data.tasks import (DataFormatError, DataUnavailableError, examples_from_pairs,
                                  key_fields, load_examples, load_jsonl, load_tfds, load_tsv)
from bert2bert.data.tfds_builders import builder_for, own_builder_names, prepare

__all__ = ["DataFormatError", "DataUnavailableError", "PairEncoder", "batch_examples",
           "builder_for", "builtin_examples", "builtin_fingerprint", "default_bucket_boundaries",
           "examples_from_pairs", "featurize", "key_fields", "load_examples", "load_jsonl",
           "load_tfds", "load_tsv", "make_dataset", "own_builder_names", "pad_ids_of", "prepare",
           "source_special_ids", "write_builtin_task_files", "write_builtin_tsv"]
