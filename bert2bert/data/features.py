"""From string examples to the model's padded int32 batches, all inside the tf.data graph.

Conventions (one rule each):

* Source ids follow the source vocabulary's family: BERT `[CLS] x [SEP]`, RoBERTa `<s> x </s>`,
  GPT-2 and SentencePiece `x` (no special tokens). `x` is cut so that the whole fits
  `max_source_length`; the special tokens are always kept.
* Target: `y` is cut to `max_target_length - 1` tokens, then
  `labels = y + [end]` and `decoder_token_ids = [start] + y` (= [start] + labels[:-1]), so the
  end token is always there and both have the same length (<= max_target_length).
* Masks are 1 for real tokens, 0 for padding. Padding uses each side's pad id (labels: the
  target's); the loss counts only positions where `decoder_padding_mask` is 1.
* decoder_only (the `gpt` variant): the source is a GPT-2 prefix made with the target
  tokenizer, `x` without special tokens; the model appends the decoder input after it.

    >>> import tensorflow as tf
    >>> from bert2bert.text import SpecialTokens
    >>> class WordLengths:  # a toy tokenizer: the id of a word is its length
    ...     family, vocab_size = "bert", 100
    ...     special_tokens = SpecialTokens(start_id=101, end_id=102, pad_id=0, unk_id=None,
    ...         start_token="[CLS]", end_token="[SEP]", pad_token="[PAD]", unk_token=None)
    ...     def tokenize(self, strings):
    ...         return tf.strings.length(tf.strings.split(strings))
    >>> tok = WordLengths()
    >>> ds = tf.data.Dataset.from_tensors({"source": "a bb ccc", "target": "dddd ee"})
    >>> inputs, labels = next(iter(featurize(ds, tok, tok, max_source_length=4,
    ...                                      max_target_length=8)))
    >>> inputs["encoder_token_ids"].numpy().tolist()  # [CLS] x [SEP], x cut to fit 4
    [101, 1, 2, 102]
    >>> inputs["decoder_token_ids"].numpy().tolist(), labels.numpy().tolist()
    ([101, 4, 2], [4, 2, 102])
"""
from typing import Optional, Sequence, Tuple, Union

import tensorflow as tf

from bert2bert import grid

__all__ = ["PairEncoder", "SOURCE_SPECIALS", "batch_examples", "default_bucket_boundaries",
           "featurize", "make_dataset", "pad_ids_of", "source_special_ids"]

# Families whose encoder input is wrapped in start/end tokens (bert2bert.grid says which).
SOURCE_SPECIALS = {**grid.WRAPS_SOURCE,
                   "sentencepiece": False}

TOKENIZE_BATCH = 256


def source_special_ids(tokenizer) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """(ids before x, ids after x) for an encoder input in `tokenizer`'s family."""
    family = getattr(tokenizer, "family", None)
    if family not in SOURCE_SPECIALS:
        raise ValueError(f"unknown tokenizer family {family!r}; expected one of "
                         f"{sorted(SOURCE_SPECIALS)}")
    if not SOURCE_SPECIALS[family]:
        return (), ()
    st = tokenizer.special_tokens
    return (int(st.start_id),), (int(st.end_id),)


def input_pads(pad_ids: Tuple[int, int]) -> dict:
    """What each model input is padded with: ids with their side's pad id (`pad_ids`:
    source, target), masks with 0. Labels pad with the target's pad id."""
    source_pad, target_pad = (int(i) for i in pad_ids)
    return {"encoder_token_ids": source_pad, "encoder_padding_mask": 0,
            "decoder_token_ids": target_pad, "decoder_padding_mask": 0}


def pad_ids_of(source_tokenizer, target_tokenizer, decoder_only: bool = False) -> Tuple[int, int]:
    """(source pad id, target pad id); decoder_only uses the target's for both."""
    target_pad = int(target_tokenizer.special_tokens.pad_id)
    if decoder_only or source_tokenizer is None:
        return target_pad, target_pad
    return int(source_tokenizer.special_tokens.pad_id), target_pad


def _column(value: int, rows: tf.Tensor) -> tf.RaggedTensor:
    return tf.RaggedTensor.from_tensor(tf.fill(tf.stack([rows, 1]), tf.constant(value, tf.int32)))


def _as_ragged_int32(ids) -> tf.RaggedTensor:
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.RaggedTensor.from_tensor(ids)
    return tf.cast(ids, tf.int32).with_row_splits_dtype(tf.int64)


class PairEncoder:
    """Tokenizes string batches into the model's ragged int32 inputs, by the conventions above.

    Used by `featurize` (tf.data) and by the exported SavedModel (serving graph), so training
    and serving encode text the same way. With `decoder_only` the source uses the target
    tokenizer (`source_tokenizer` may be None or must be of the same family and size) and gets
    no special tokens. `start_id` begins each decoder input (default: the target vocabulary's
    start token; a model's own is `ModelSpec.start_id`).
    """

    def __init__(self, source_tokenizer, target_tokenizer, max_source_length: int,
                 max_target_length: int, decoder_only: bool = False,
                 start_id: Optional[int] = None):
        if decoder_only:
            if source_tokenizer is not None and (
                    source_tokenizer.family != target_tokenizer.family
                    or source_tokenizer.vocab_size != target_tokenizer.vocab_size):
                raise ValueError("decoder_only: the source is a prefix of the decoder, so it must "
                                 f"use the target vocabulary ({target_tokenizer!r}), not "
                                 f"{source_tokenizer!r}")
            source_tokenizer = target_tokenizer
            before, after = (), ()
        else:
            if source_tokenizer is None:
                raise ValueError("featurize needs a source tokenizer (None only with decoder_only)")
            before, after = source_special_ids(source_tokenizer)
        n_special = len(before) + len(after)
        if max_source_length <= n_special:
            raise ValueError(f"max_source_length={max_source_length} leaves no room for text "
                             f"next to the {n_special} special token(s) of the "
                             f"{source_tokenizer.family} source")
        if max_target_length < 1:
            raise ValueError(f"max_target_length={max_target_length} must be >= 1 (the end token)")
        self.source_tokenizer, self.target_tokenizer = source_tokenizer, target_tokenizer
        self.before, self.after = before, after
        self.keep_source = max_source_length - n_special
        self.keep_target = max_target_length - 1
        self.start_id = int(target_tokenizer.special_tokens.start_id if start_id is None
                            else start_id)
        self.end_id = int(target_tokenizer.special_tokens.end_id)

    def sources(self, strings) -> tf.RaggedTensor:
        """Encoder (or gpt prefix) ids [batch, (<= max_source_length)]."""
        rows = tf.shape(strings, out_type=tf.int64)[0]
        src = _as_ragged_int32(self.source_tokenizer.tokenize(strings))[:, :self.keep_source]
        return tf.concat([_column(i, rows) for i in self.before] + [src]
                         + [_column(i, rows) for i in self.after], axis=1)

    def targets(self, strings) -> Tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """(decoder input ids `[start] + y`, labels `y + [end]`), each <= max_target_length."""
        rows = tf.shape(strings, out_type=tf.int64)[0]
        tgt = _as_ragged_int32(self.target_tokenizer.tokenize(strings))[:, :self.keep_target]
        return (tf.concat([_column(self.start_id, rows), tgt], axis=1),
                tf.concat([tgt, _column(self.end_id, rows)], axis=1))

    def pairs(self, sources, targets, keep_text: bool = False):
        """(inputs dict of ragged ids and masks, ragged labels) for string batches; with
        `keep_text` the inputs also hold the strings (`source_text`, `target_text`)."""
        src = self.sources(sources)
        decoder, labels = self.targets(targets)
        inputs = {
            "encoder_token_ids": src,
            "encoder_padding_mask": tf.ones_like(src),
            "decoder_token_ids": decoder,
            "decoder_padding_mask": tf.ones_like(decoder),
        }
        if keep_text:
            inputs.update(source_text=sources, target_text=targets)
        return inputs, labels


def featurize(dataset: tf.data.Dataset, source_tokenizer, target_tokenizer,
              max_source_length: int, max_target_length: int, decoder_only: bool = False,
              tokenize_batch: int = TOKENIZE_BATCH, keep_text: bool = False,
              start_id: Optional[int] = None) -> tf.data.Dataset:
    """Maps {"source", "target"} string examples to `(inputs, labels)` (unpadded, int32).

    inputs: encoder_token_ids, encoder_padding_mask [S]; decoder_token_ids,
    decoder_padding_mask [T]; labels [T]; with `keep_text` also the example's strings,
    source_text and target_text []. Strings are tokenized `tokenize_batch` at a time
    (batch -> tokenize -> unbatch), in order. See the module docstring for the conventions
    and `PairEncoder` for `decoder_only` and `start_id`.
    """
    encoder = PairEncoder(source_tokenizer, target_tokenizer, max_source_length,
                          max_target_length, decoder_only, start_id)
    batched = dataset.batch(tokenize_batch)
    rows = batched.map(lambda batch: encoder.pairs(batch["source"], batch["target"], keep_text),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
    # unbatch leaves rank-0 "ragged" specs; an identity map makes them plain int32 tensors [len].
    return rows.map(lambda inputs, labels: (dict(inputs), labels))


def default_bucket_boundaries(max_length: int, min_length: int = 8,
                              growth: float = 1.25) -> Sequence[int]:
    """Geometric length boundaries min_length, *growth, ... below `max_length`.

        >>> default_bucket_boundaries(64)
        [8, 10, 12, 15, 19, 24, 30, 38, 47, 59]
    """
    bounds, x = [], float(min_length)
    while int(x) < max_length:
        if not bounds or int(x) > bounds[-1]:
            bounds.append(int(x))
        x *= growth
    return bounds


def batch_examples(dataset: tf.data.Dataset, batch_size: int, max_source_length: int,
                   max_target_length: int, pad_ids: Tuple[int, int], static_shapes: bool = False,
                   shuffle_buffer: int = 0, seed: Optional[int] = None,
                   drop_remainder: bool = False,
                   bucket_boundaries: Union[None, str, Sequence[int]] = None
                   ) -> tf.data.Dataset:
    """Pads featurized `(inputs, labels)` examples into batches.

    Args:
      pad_ids: (source pad id, target pad id): encoder ids use the first, decoder ids and
        labels the second; masks pad with 0.
      static_shapes: every batch is [batch_size, max_*_length] and the last partial batch is
        dropped (TPU). Otherwise a batch is as long as its longest example.
      shuffle_buffer: > 0 shuffles examples first (seeded by `seed`: same order every run).
      bucket_boundaries: None (no bucketing), a list of increasing lengths, or "auto"
        (`default_bucket_boundaries`): examples are grouped by max(source, target) length so
        that batches hold similar lengths (less padding). Not with static_shapes.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    padding_values = ({k: tf.constant(v, tf.int32) for k, v in input_pads(pad_ids).items()},
                      tf.constant(int(pad_ids[1]), tf.int32))
    text_keys = [k for k in ("source_text", "target_text") if k in dataset.element_spec[0]]
    padding_values[0].update({k: tf.constant("", tf.string) for k in text_keys})
    if shuffle_buffer and shuffle_buffer > 0:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if static_shapes:
        if bucket_boundaries:
            raise ValueError("static_shapes pads every batch to the max lengths: "
                             "bucket_boundaries does not apply")
        s, t = [max_source_length], [max_target_length]
        padded_shapes = ({"encoder_token_ids": s, "encoder_padding_mask": s,
                          "decoder_token_ids": t, "decoder_padding_mask": t,
                          **{k: [] for k in text_keys}}, t)
        return dataset.padded_batch(batch_size, padded_shapes=padded_shapes,
                                    padding_values=padding_values, drop_remainder=True)
    if bucket_boundaries:
        if isinstance(bucket_boundaries, str):
            if bucket_boundaries != "auto":
                raise ValueError(f"bucket_boundaries must be a list of lengths or 'auto', "
                                 f"got {bucket_boundaries!r}")
            bucket_boundaries = default_bucket_boundaries(max(max_source_length,
                                                              max_target_length))
        bounds = [int(b) for b in bucket_boundaries]
        if any(b <= 0 for b in bounds) or any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):
            raise ValueError(f"bucket_boundaries must be increasing positive lengths, got {bounds}")

        def length(inputs, labels):
            return tf.maximum(tf.shape(inputs["encoder_token_ids"])[0], tf.shape(labels)[0])

        return dataset.bucket_by_sequence_length(
            length, bucket_boundaries=bounds, bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
            padding_values=padding_values, drop_remainder=drop_remainder)
    return dataset.padded_batch(batch_size, padding_values=padding_values,
                                drop_remainder=drop_remainder)


def make_dataset(task, split: str, source_tokenizer, target_tokenizer, batch_size: int, *,
                 data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
                 training: bool = False, repeat: Optional[bool] = None,
                 shuffle_buffer: Optional[int] = None, seed: Optional[int] = None,
                 static_shapes: bool = False,
                 bucket_boundaries: Union[None, str, Sequence[int]] = None,
                 drop_remainder: Optional[bool] = None, decoder_only: bool = False,
                 limit: Optional[int] = None, allow_download: bool = True,
                 keep_text: bool = False, start_id: Optional[int] = None) -> tf.data.Dataset:
    """load_examples + featurize + batch_examples for `task` (a TaskConfig), prefetched.

    training=True means: shuffled TFDS shards, `repeat()` forever, a 10,000-example shuffle
    buffer and full batches only (each overridable). Given a `seed`, the order is the same on
    every run. `limit` keeps the first `limit` examples (before shuffling). `keep_text`: each
    batch's inputs also hold its strings (`source_text`, `target_text`), e.g. to score them.
    `start_id` begins the decoder inputs (`PairEncoder`).

        >>> ds = make_dataset(task, "train", tok, tok, 32, training=True, seed=1)  # doctest: +SKIP
        >>> inputs, labels = next(iter(ds))                                         # doctest: +SKIP
    """
    from bert2bert.data.tasks import load_examples
    repeat = training if repeat is None else repeat
    shuffle_buffer = (10000 if training else 0) if shuffle_buffer is None else shuffle_buffer
    drop_remainder = (training or static_shapes) if drop_remainder is None else drop_remainder
    examples = load_examples(task, split, data_dir=data_dir, manual_dir=manual_dir,
                             shuffle_files=training, seed=seed,
                             allow_download=allow_download)
    if limit is not None:
        examples = examples.take(limit)
    features = featurize(examples, source_tokenizer, target_tokenizer, task.max_source_length,
                         task.max_target_length, decoder_only=decoder_only, keep_text=keep_text,
                         start_id=start_id)
    if repeat:
        features = features.repeat()
    batches = batch_examples(
        features, batch_size, task.max_source_length, task.max_target_length,
        pad_ids_of(source_tokenizer, target_tokenizer, decoder_only),
        static_shapes=static_shapes, shuffle_buffer=shuffle_buffer, seed=seed,
        drop_remainder=drop_remainder, bucket_boundaries=bucket_boundaries)
    options = tf.data.Options()
    options.deterministic = True
    return batches.with_options(options).prefetch(tf.data.AUTOTUNE)
