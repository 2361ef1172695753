"""SentencePiece models in the TensorFlow graph (tensorflow_text.SentencepieceTokenizer).

The serialized model is held by the op's resource, so it travels inside a SavedModel. Special
tokens come from the model's trainer spec (unk/bos/eos/pad ids), read here with a small protobuf
reader (no `sentencepiece` package needed): eos is required; a model without a pad piece pads
with eos, one without bos starts with pad (T5's convention).

    >>> tok = SentencePieceTokenizer("spm.model")          # doctest: +SKIP
    >>> tok.detokenize(tok.tokenize(["Hello world"]))      # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'Hello world'], dtype=object)>
"""
import os

import tensorflow as tf
import tensorflow_text as tf_text

from .base import InGraphTokenizer, read_bytes
from .special_tokens import sentencepiece_special_tokens

# sentencepiece_model.proto: ModelProto.pieces = 1 (SentencePiece: piece = 1, score = 2,
# type = 3), ModelProto.trainer_spec = 2 (TrainerSpec: unk_id = 40, bos_id = 41, eos_id = 42,
# pad_id = 43; defaults 0, 1, 2, -1).
_TRAINER_ID_FIELDS = {40: "unk_id", 41: "bos_id", 42: "eos_id", 43: "pad_id"}
_TRAINER_DEFAULTS = {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1}


def _varint(buf, i):
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf):
    """(field number, wire type, value) of a serialized protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if i > len(buf):
            raise ValueError("truncated field")
        yield field, wire, value


def parse_sentencepiece_model(data: bytes):
    """(pieces, trainer ids) of a serialized SentencePiece ModelProto: pieces is the list of
    piece strings by id; trainer ids is {"unk_id", "bos_id", "eos_id", "pad_id"} (-1 = none)."""
    pieces, ids = [], dict(_TRAINER_DEFAULTS)
    for field, wire, value in _fields(data):
        if field == 1 and wire == 2:
            piece = None
            for f, w, v in _fields(value):
                if f == 1 and w == 2:
                    piece = v.decode("utf-8")
            if piece is None:
                raise ValueError("a SentencePiece entry without a piece string")
            pieces.append(piece)
        elif field == 2 and wire == 2:
            for f, w, v in _fields(value):
                if f in _TRAINER_ID_FIELDS and w == 0:
                    ids[_TRAINER_ID_FIELDS[f]] = v - (1 << 64) if v >= 1 << 63 else v
    if not pieces:
        raise ValueError("no pieces")
    return pieces, ids


class SentencePieceTokenizer(InGraphTokenizer):
    """In-graph SentencePiece tokenizer (unigram or BPE) from a `.model` file.

    Args:
      model_file: a serialized SentencePiece model (`spm.model`).

    No bos/eos are added by `tokenize`; `detokenize` drops start/end/padding ids (control pieces
    render as nothing anyway; the unknown piece renders as " ⁇ ", SentencePiece's default).

    Example:
        >>> tok = SentencePieceTokenizer.from_files("spm.model")   # doctest: +SKIP
        >>> tok.vocab_size                                        # doctest: +SKIP
        8000
    """

    family = "sentencepiece"

    def __init__(self, model_file, name=None):
        model_file = os.fspath(model_file)
        data = read_bytes(model_file, "SentencePiece model")
        try:
            pieces, ids = parse_sentencepiece_model(data)
        except (ValueError, UnicodeDecodeError, IndexError) as e:
            raise ValueError(f"{model_file}: not a SentencePiece model ({e})") from None
        special = sentencepiece_special_tokens(pieces, model_file=model_file, **ids)
        super().__init__(special, len(pieces), vocab_files=[model_file], name=name)
        self.model_file = model_file
        self._model = data
        self.sp = tf_text.SentencepieceTokenizer(model=data, out_type=tf.int32)

    def tokenize(self, strings) -> tf.RaggedTensor:
        return self._eager_safe(super().tokenize, strings)

    def detokenize(self, ids) -> tf.Tensor:
        return self._eager_safe(super().detokenize, ids)

    def _eager_safe(self, method, value):
        """`method(value)`, once more after re-making the model resource if it is gone: the
        resource belongs to TensorFlow's eager kernel cache (tensorflow_text's kernel-owned
        SentencepieceOp), and clearing that cache deletes it ("Resource
        localhost/_0_SentencepieceOp/... does not exist")."""
        try:
            return method(value)
        except tf.errors.NotFoundError:
            if not tf.executing_eagerly():
                raise
            self.sp = tf_text.SentencepieceTokenizer(model=self._model, out_type=tf.int32)
            self._make_functions()  # traced again, around the new resource
            return method(value)

    @classmethod
    def from_files(cls, spm_model):
        """Same as the constructor: `SentencePieceTokenizer.from_files("spm.model")`."""
        return cls(spm_model)

    def _tokenize(self, strings):
        ids = self.sp.tokenize(strings)
        return ids.with_row_splits_dtype(tf.int64)

    def _detokenize(self, ids):
        return self.sp.detokenize(ids)
