"""The common interface of the in-graph tokenizers, and vocabulary-file helpers.

Every tokenizer is a `tf.Module` (its lookup tables and vocabulary assets are tracked, so a module
holding one exports with `tf.saved_model.save`) and runs on core TensorFlow and tensorflow-text ops
only: no `tf.py_function`, so the export runs in stock TF Serving.

    tokenize(strings)  -> tf.RaggedTensor int32 [batch, (tokens)], no special tokens added
    detokenize(ids)    -> tf.string [batch]; start, end and padding ids are dropped
    vocab_size, special_tokens, family
"""
import errno
import os

import tensorflow as tf


def read_text(path, what: str) -> str:
    """The UTF-8 text of `path` (local or any tf.io.gfile scheme); clear errors naming the file."""
    path = os.fspath(path)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: {what} file is not valid UTF-8 ({e})") from None


def gfile_opener(what: str):
    """An opener for `bert2bert.textfiles.text_lines` over `tf.io.gfile` (local or remote paths);
    a missing file is a `FileNotFoundError` naming `what` and the path."""
    def open_file(path):
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(errno.ENOENT, f"{what} file not found", path)
        return tf.io.gfile.GFile(path, "rb")
    return open_file


def read_bytes(path, what: str) -> bytes:
    path = os.fspath(path)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def as_string_vector(strings) -> tf.Tensor:
    """A tf.string tensor [batch] from a tensor or a Python list of str/bytes."""
    if isinstance(strings, (str, bytes)):
        raise ValueError("tokenize() takes a batch: a list of strings or a tf.string tensor [batch]")
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    if strings.shape.rank is not None and strings.shape.rank != 1:
        raise ValueError(f"tokenize() takes a tf.string tensor of shape [batch], got {strings.shape}")
    return strings


def as_ragged_ids(ids) -> tf.RaggedTensor:
    """int32 RaggedTensor [batch, (ids)] from a RaggedTensor, a dense [batch, len] tensor or lists."""
    if isinstance(ids, (list, tuple)):
        ids = tf.ragged.constant(ids, dtype=tf.int64, ragged_rank=1) if ids else \
            tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int64), tf.zeros([0], tf.int64))
    if isinstance(ids, tf.RaggedTensor):
        if ids.ragged_rank != 1 or ids.shape.rank != 2:
            raise ValueError(f"detokenize() takes ids of shape [batch, (tokens)], got {ids.shape}")
        return tf.cast(ids, tf.int32).with_row_splits_dtype(tf.int64)
    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise ValueError(f"detokenize() takes integer ids, got {ids.dtype}")
    if ids.shape.rank is not None and ids.shape.rank != 2:
        raise ValueError(f"detokenize() takes ids of shape [batch, tokens], got {ids.shape}")
    return tf.RaggedTensor.from_tensor(tf.cast(ids, tf.int32))


_RAGGED_IDS_SPEC = tf.RaggedTensorSpec(shape=[None, None], dtype=tf.int32, ragged_rank=1,
                                       row_splits_dtype=tf.int64)


def _plain(function):
    """`function` as written, not rewritten by AutoGraph when a converted caller (a tf.data map,
    a `tf.function`) calls it: tokenizers have no tensor-dependent Python control flow, and
    converting them and tensorflow_text's ops costs seconds of every process's first trace."""
    return tf.autograph.experimental.do_not_convert(function)


class InGraphTokenizer(tf.Module):
    """Base class: subclasses implement `_tokenize(strings)` and `_detokenize(ragged_ids)`.

    `_tokenize` maps a tf.string [batch] to an int32 RaggedTensor; `_detokenize` maps an int32
    RaggedTensor (already stripped of start/end/padding and out-of-range ids) to tf.string [batch].
    In eager mode the public methods run through a `tf.function` (fast); inside a graph they
    inline their ops into the caller's graph.
    """

    family = None

    def __init__(self, special_tokens, vocab_size: int, vocab_files=(), name=None):
        super().__init__(name=name)
        self._special_tokens = special_tokens
        self._vocab_size = int(vocab_size)
        # The original vocabulary files travel with a SavedModel as assets (for provenance and
        # re-use by other tools); the tables are built so that they do not need them at serving.
        self.vocab_assets = [tf.saved_model.Asset(os.fspath(p)) for p in vocab_files]
        self._make_functions()

    def _make_functions(self):
        """The eager entry points, traced once (graph callers use `_tokenize` directly)."""
        self._tokenize_fn = tf.function(
            self._tokenize, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
        self._detokenize_fn = tf.function(
            self._detokenize_clean, input_signature=[_RAGGED_IDS_SPEC], autograph=False)

    @property
    def vocab_size(self) -> int:
        """Number of ids (embedding rows) the vocabulary needs."""
        return self._vocab_size

    @property
    def special_tokens(self):
        """The `SpecialTokens` (start/end/pad/unk ids and strings) of this vocabulary."""
        return self._special_tokens

    def tokenize(self, strings) -> tf.RaggedTensor:
        """Token ids of each string: int32 RaggedTensor [batch, (tokens)], no special tokens."""
        strings = as_string_vector(strings)
        if tf.executing_eagerly():
            return self._tokenize_fn(strings)
        return _plain(self._tokenize)(strings)

    def detokenize(self, ids) -> tf.Tensor:
        """Text of each row of ids (RaggedTensor or dense [batch, len]); start, end and padding
        ids and ids outside [0, vocab_size) are dropped. Returns tf.string [batch]."""
        ids = as_ragged_ids(ids)
        if tf.executing_eagerly():
            return self._detokenize_fn(ids)
        return _plain(self._detokenize_clean)(ids)

    def _detokenize_clean(self, ids: tf.RaggedTensor) -> tf.Tensor:
        flat = ids.flat_values
        keep = (flat >= 0) & (flat < self._vocab_size)
        for i in self._special_tokens.drop_ids:
            keep &= tf.not_equal(flat, i)
        return self._detokenize(tf.ragged.boolean_mask(ids, ids.with_flat_values(keep)))

    def _tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        raise NotImplementedError

    def _detokenize(self, ids: tf.RaggedTensor) -> tf.Tensor:
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} family={self.family} vocab_size={self._vocab_size}>"
