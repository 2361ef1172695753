"""The paper's tasks as examples {"source": tf.string, "target": tf.string}.

`load_examples(task, split)` reads the data a `TaskConfig` names:

| file_format | where                                  | source_key / target_key             |
|-------------|----------------------------------------|-------------------------------------|
| tfds        | TFDS `task.tfds_name` (bert2bert's own | feature names                       |
|             | builders for wikisplit and discofuse)  |                                     |
| tsv         | `task.data_files[split]` (".gz" too)   | header column names, or 0-based     |
|             |                                        | column numbers ("0", "1") if no     |
|             |                                        | header                              |
| jsonl       | `task.data_files[split]`               | field names of each JSON object     |
| builtin     | `bert2bert.data.builtin` (no files)    | ignored (`task.builtin_kind`)       |
| prepared    | the text task in `task.data_dir`'s     | the text task's                     |
|             | manifest (training reads the ids:      |                                     |
|             | `bert2bert.data.sharded`)              |                                     |

A key `a+b` joins several fields with one space (empty fields skipped), e.g. DiscoFuse's
"incoherent_first_sentence+incoherent_second_sentence". TSV fields are split on tabs (no
quoting); blank lines are skipped. Malformed input raises `DataFormatError` naming the file,
the line and the column or field; a TFDS dataset that is neither prepared nor downloadable raises
`DataUnavailableError` saying what to download and which `manual_dir` / `data_dir` to fill.

    >>> import os, tempfile
    >>> from bert2bert.config import TaskConfig
    >>> path = os.path.join(tempfile.mkdtemp(), "dev.tsv")
    >>> _ = open(path, "w").write("complex\\tsimple\\nA and B .\\tA . <::::> B .\\n")
    >>> task = TaskConfig(name="mine", file_format="tsv", data_files={"validation": path},
    ...                   source_key="complex", target_key="simple")
    >>> ex = next(iter(load_examples(task, "validation")))
    >>> ex["source"].numpy(), ex["target"].numpy()
    (b'A and B .', b'A . <::::> B .')
"""
import os
import re
from typing import Optional, Sequence

import tensorflow as tf

from bert2bert.data.errors import DataError, DataFormatError, DataUnavailableError
from bert2bert.data.files import check_tsv, data_file, key_fields, read_jsonl
from bert2bert.data.preflight import check_task
from bert2bert.data.tfds.preparation import prepare
from bert2bert.data.tfds.registry import builder_for

__all__ = ["DataFormatError", "DataUnavailableError", "key_fields", "load_examples",
           "load_jsonl", "load_tfds", "load_tsv", "examples_from_pairs"]

# Split names some datasets use for the same thing.
SPLIT_ALIASES = {"dev": "validation", "valid": "validation"}


def join_fields(parts: Sequence[tf.Tensor]) -> tf.Tensor:
    """One tf.string scalar: a single field as it is; several: stripped, the empty ones dropped,
    joined with one space."""
    if len(parts) == 1:
        return parts[0]
    stacked = tf.strings.strip(tf.stack(list(parts)))
    kept = tf.boolean_mask(stacked, tf.strings.length(stacked) > 0)
    return tf.strings.reduce_join(kept, separator=" ")


def examples_from_pairs(pairs) -> tf.data.Dataset:
    """A dataset of {"source", "target"} from a list of (source, target) strings."""
    pairs = list(pairs)
    return tf.data.Dataset.from_tensor_slices({
        "source": tf.constant([s for s, _ in pairs], tf.string, shape=[len(pairs)]),
        "target": tf.constant([t for _, t in pairs], tf.string, shape=[len(pairs)])})


# ---------------------------------------------------------------------------
# Local files (checked by `bert2bert.data.files` first).


def load_tsv(path: str, source_key: str, target_key: str) -> tf.data.Dataset:
    """Examples from a tab-separated file (read in-graph after one checking pass in Python).

    Named keys: the first non-blank line is a header naming the columns. Integer keys ("0",
    "1", "0+2"): no header, 0-based column numbers. Every row needs as many fields as the header
    (or the first row).

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.tsv")
        >>> _ = open(p, "w").write("a\\tb\\n")
        >>> [ex["target"].numpy() for ex in load_tsv(p, "0", "1")]
        [b'b']
    """
    columns = check_tsv(path, source_key, target_key)
    lines = tf.data.TextLineDataset(path, compression_type="GZIP" if path.endswith(".gz") else "")
    lines = lines.map(lambda line: tf.strings.regex_replace(line, "^\ufeff|\r$", ""))
    lines = lines.filter(lambda line: tf.strings.length(line) > 0)
    if columns.has_header:
        lines = lines.skip(1)

    def parse(line):
        fields = tf.strings.split(line, "\t")
        return {"source": join_fields([fields[i] for i in columns.source]),
                "target": join_fields([fields[i] for i in columns.target])}

    return lines.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_jsonl(path: str, source_key: str, target_key: str) -> tf.data.Dataset:
    """Examples from a JSON Lines file: one object per line with string fields (read in
    Python, held in memory)."""
    return examples_from_pairs(read_jsonl(path, source_key, target_key))


# ---------------------------------------------------------------------------
# TFDS.


def _base_split(split: str) -> str:
    """"train[:10%]" -> "train"."""
    match = re.match(r"[A-Za-z0-9_\-]+", split)
    return match.group(0) if match else split


def load_tfds(tfds_name: str, split: str, source_key: str, target_key: str,
              data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
              shuffle_files: bool = False, seed: Optional[int] = None,
              allow_download: bool = True) -> tf.data.Dataset:
    """Examples from TFDS dataset `tfds_name` ("name[/config][:version]"); prepares it first
    (offline from `manual_dir` for our builders; downloads only when the hosts answer).
    `split` may use TFDS slicing ("train[:1000]"); "dev" means "validation"."""
    builder = builder_for(tfds_name, data_dir=data_dir)
    base = _base_split(split)
    if base in SPLIT_ALIASES:
        split = SPLIT_ALIASES[base] + split[len(base):]
        base = SPLIT_ALIASES[base]
    prepare(builder, base, manual_dir=manual_dir, allow_download=allow_download)
    full = builder.info.full_name
    if base not in builder.info.splits:
        raise DataError(f"TFDS dataset {full!r} in {os.fspath(builder.data_path)} has no split "
                         f"{base!r}; prepared splits: {sorted(builder.info.splits)}")
    features = builder.info.features
    src = key_fields(source_key, "source_key")
    tgt = key_fields(target_key, "target_key")
    for key, what in [(k, "source_key") for k in src] + [(k, "target_key") for k in tgt]:
        if key not in features:
            raise DataError(f"{what} {key!r} is not a feature of TFDS dataset {full!r}; "
                             f"features: {sorted(features.keys())}")
        feature = features[key]
        if feature.tf_dtype != tf.string or tuple(feature.shape) != ():
            raise DataError(f"{what} {key!r} of TFDS dataset {full!r} is not a text feature "
                             f"({feature.tf_dtype.name} {tuple(feature.shape)})")
    read_config = None
    if seed is not None:
        import tensorflow_datasets as tfds
        read_config = tfds.ReadConfig(shuffle_seed=seed)
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)
    return ds.map(lambda ex: {"source": join_fields([ex[k] for k in src]),
                              "target": join_fields([ex[k] for k in tgt])},
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


# ---------------------------------------------------------------------------
# The one entry point.


def load_examples(task, split: str, data_dir: Optional[str] = None,
                  manual_dir: Optional[str] = None, *, shuffle_files: bool = False,
                  seed: Optional[int] = None, allow_download: bool = True) -> tf.data.Dataset:
    """A tf.data.Dataset of {"source": tf.string scalar, "target": tf.string scalar}.

    Args:
      task: a `TaskConfig` (file_format, tfds_name or data_files, source_key, target_key).
      split: "train", "validation", "test" (or what the data has, e.g. WikiSplit's "tune").
      data_dir: TFDS data folder (default: `task.data_dir` if the config has one, else TFDS's,
        e.g. ~/tensorflow_datasets).
      manual_dir: folder with already downloaded source files (default: `task.manual_dir`);
        our WikiSplit / DiscoFuse builders read them without network; TFDS datasets with
        manual steps (xsum) look there too. Default: <data_dir>/downloads/manual.
      shuffle_files: TFDS only: read the shards in a shuffled order (seeded by `seed`).
      allow_download: False never touches the network (a missing dataset is an error).
    """
    check_task(task, [split])  # one line naming the file, line or key (cheap; cached)
    if task.file_format == "prepared":  # ids only: the text is where it was prepared from
        from bert2bert.data.manifest import text_task
        return load_examples(text_task(task), split, shuffle_files=shuffle_files, seed=seed,
                             allow_download=allow_download)
    fmt = task.file_format
    data_dir = data_dir or getattr(task, "data_dir", None)
    manual_dir = manual_dir or getattr(task, "manual_dir", None)
    if fmt == "tfds":
        return load_tfds(task.tfds_name, split, task.source_key, task.target_key,
                         data_dir=data_dir, manual_dir=manual_dir, shuffle_files=shuffle_files,
                         seed=seed, allow_download=allow_download)
    if fmt == "builtin":
        from bert2bert.data.builtin import builtin_examples
        kind = getattr(task, "builtin_kind", None) or "fusion"
        return examples_from_pairs(builtin_examples(kind=kind, split=split))
    loader = load_tsv if fmt == "tsv" else load_jsonl
    return loader(data_file(task, split), task.source_key, task.target_key)
