"""Strings in, strings out: a model, its two tokenizers and beam search in one TensorFlow graph.

`Generator` is what the exported SavedModel serves, and it runs the same in process:

    gen = Generator(model, source_tokenizer, target_tokenizer, max_source_length=128,
                    max_target_length=64, decode=DecodeConfig(beam_size=4, alpha=0.6))
    gen.generate(tf.constant(["A sentence .", "Another ."]))     # {"outputs": [b"...", b"..."]}

Every function takes batches (a batch of 0 is fine) and never fails on text: input bytes are cut
to `max_input_bytes`, invalid UTF-8 becomes U+FFFD, and the token ids are cut to the model's
source length. Only core TensorFlow and tensorflow-text ops are used.
"""
import tensorflow as tf

from bert2bert.config import DecodeConfig
from bert2bert.data.features import PairEncoder, pad_ids_of
from bert2bert.decoding import beam_search, decode, never_generated

# Bytes kept of each input before tokenization: far more than `max_source_length` tokens need
# (a token is at least one character), small enough that a huge input costs nothing.
BYTES_PER_SOURCE_TOKEN = 64

STRINGS = tf.TensorSpec([None], tf.string)
IDS = tf.TensorSpec([None, None], tf.int32)
# A search setting: one value for the whole request, or one per input ([batch]), so that TF
# Serving's server-side batching can merge requests with different settings.
SETTING = {dtype: tf.TensorSpec(None, dtype) for dtype in (tf.float32, tf.int32)}


def per_input(value, batch, name: str):
    """`value` (a scalar or one per input) checked against the batch: a scalar stays one."""
    rank, size = tf.rank(value), tf.size(value)
    ok = tf.logical_or(tf.equal(rank, 0), tf.logical_and(tf.equal(rank, 1), tf.equal(size, batch)))
    with tf.control_dependencies([tf.debugging.Assert(ok, [
            f"{name} must be a scalar or have one value per input; inputs:", batch,
            f"{name} values:", size])]):
        return tf.identity(value)


def clean_strings(strings, max_bytes: int):
    """Cuts each string to `max_bytes` bytes and replaces invalid UTF-8 by U+FFFD."""
    strings = tf.strings.substr(strings, 0, max_bytes, unit="BYTE")
    return tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace",
                                        replacement_char=0xFFFD, replace_control_characters=False)


def padded(ragged: tf.RaggedTensor, pad_id: int):
    """(ids, mask) int32 [batch, max(1, longest)] from ragged ids."""
    ids = ragged.to_tensor(default_value=pad_id)
    mask = tf.ones_like(ragged).to_tensor(default_value=0)
    extra = tf.maximum(0, 1 - tf.shape(ids)[1])  # at least one column, even for a batch of 0
    return (tf.pad(ids, [[0, 0], [0, extra]], constant_values=pad_id),
            tf.pad(mask, [[0, 0], [0, extra]]))


class Generator(tf.Module):
    """A trained model with its tokenizers and decoding settings, as `tf.function`s.

    Args:
      model: a `Seq2SeqModel`.
      source_tokenizer, target_tokenizer: in-graph tokenizers (`bert2bert.text`); for the
        decoder-only `gpt` variant the source tokenizer may be None (the target's is used).
      max_source_length: source ids are cut to this many (special tokens included).
      max_target_length: the longest output in tokens (the end token included); the static
        size of the decoding buffers.
      decode: beam size, alpha, min_length, no_repeat_ngram_size (`DecodeConfig`).
      static_shapes: pad every source to `max_source_length` (TPU-style fixed shapes: each
        batch size then traces and compiles once); the outputs do not change.
      xla: compile the search (model and decoding loop; tokenization stays outside) with XLA
        (`tf.function(jit_compile=True)`); TF Serving runs it with
        `--xla_cpu_compilation_enabled=true`. One compilation per input shape: use it with
        `static_shapes`. The outputs do not change.
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, max_source_length: int,
                 max_target_length: int, decode: DecodeConfig = DecodeConfig(),
                 static_shapes: bool = False, xla: bool = False, name=None):
        super().__init__(name=name)
        self.model = model
        decoder_only = model.spec.decoder_only
        self.special = target_tokenizer.special_tokens
        self.start_id = model.spec.start_id(self.special)
        self.encoder = PairEncoder(source_tokenizer, target_tokenizer, max_source_length,
                                   max_target_length, decoder_only, self.start_id)
        # Attributes, so that the tokenizers' tables and vocabulary assets are tracked.
        self.source_tokenizer = self.encoder.source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.source_pad_id, self.target_pad_id = pad_ids_of(source_tokenizer, target_tokenizer,
                                                            decoder_only)
        self.max_source_length = int(max_source_length)
        self.max_target_length = int(max_target_length)
        self.max_input_bytes = BYTES_PER_SOURCE_TOKEN * self.max_source_length
        self.decode = decode
        self.static_shapes = bool(static_shapes)
        self.xla = bool(xla)

    # ----------------------------------------------------------------- pieces

    def encode_sources(self, strings):
        """Padded source ids and mask int32 [batch, <= max_source_length]."""
        ragged = self.encoder.sources(clean_strings(strings, self.max_input_bytes))
        ids, mask = padded(ragged, self.source_pad_id)
        if self.static_shapes:
            extra = self.max_source_length - tf.shape(ids)[1]
            ids = tf.pad(ids, [[0, 0], [0, extra]], constant_values=self.source_pad_id)
            mask = tf.pad(mask, [[0, 0], [0, extra]])
            ids.set_shape([None, self.max_source_length])
            mask.set_shape([None, self.max_source_length])
        return ids, mask

    def _compiled(self, function, ids, mask):
        """function(ids, mask), compiled with XLA when the generator asks for it (`xla`)."""
        if not self.xla:
            return function(ids, mask)
        return tf.function(function, jit_compile=True, autograph=False)(ids, mask)

    def search(self, ids, mask, alpha=None, length_limit=None, min_length=None):
        """Beam search on ids; returns dict(ids [B, n, L], lengths [B, n], scores [B, n]).
        alpha, length_limit, min_length: scalars or one per source (None: the export's)."""
        d = self.decode
        batch = tf.shape(ids)[0]

        def per_source(value, default, dtype):
            value = default if value is None else value
            return tf.broadcast_to(tf.cast(value, dtype), [batch])

        return self._search(ids, mask, per_source(alpha, d.alpha, tf.float32),
                            per_source(length_limit, self.max_target_length, tf.int32),
                            per_source(min_length, d.min_length, tf.int32))

    @tf.function(autograph=False)
    def _search(self, ids, mask, alpha, length_limit, min_length):
        """The one traced beam search (settings: one per source) that every signature that
        searches calls: the SavedModel holds it once, and an export traces it once."""
        d = self.decode
        return self._compiled(lambda ids, mask: beam_search(
            self.model, ids, mask, beam_size=d.beam_size, max_length=self.max_target_length,
            start_id=self.start_id, end_id=int(self.special.end_id),
            pad_id=int(self.target_pad_id), alpha=alpha, min_length=min_length,
            no_repeat_ngram_size=d.no_repeat_ngram_size, length_limit=length_limit,
            early_stopping=d.early_stopping,
            forbidden_ids=never_generated(self.special, self.start_id)), ids, mask)

    def _search_for_decode(self, model, ids, mask, *, alpha, min_length, n_best, **same):
        """`beam_search` as `decode` calls it for `generate`: with this generator's model and
        settings (`same`), so through the shared `_search`."""
        out = self.search(ids, mask, alpha=alpha, min_length=min_length)
        return {key: value[:, :n_best] for key, value in out.items()}

    def detokenize(self, ids):
        """Strings [...] from ids [..., L] (padding and special tokens dropped)."""
        shape = tf.shape(ids)
        flat = tf.reshape(ids, [-1, shape[-1]])
        text = tf.strings.strip(self.target_tokenizer.detokenize(flat))
        return tf.reshape(text, shape[:-1])

    # ------------------------------------------------------------ signatures
    # autograph=False: nothing here branches on a tensor in Python (the searches loop with
    # tf.while_loop), and AutoGraph's rewriting of the decoding code took ~5 s of an export.

    @tf.function(input_signature=[STRINGS], autograph=False)
    def generate(self, inputs):
        """inputs string [batch] -> {"outputs": string [batch]}: the best hypothesis."""
        ids, mask = self.encode_sources(inputs)
        best, _ = self._compiled(lambda ids, mask: decode(  # evaluation's policy too
            self.model, ids, mask, self.decode, self.special, self.max_target_length,
            self.start_id, search=self._search_for_decode), ids, mask)
        return {"outputs": self.detokenize(best)}

    @tf.function(input_signature=[STRINGS, SETTING[tf.float32], SETTING[tf.int32],
                                  SETTING[tf.int32]], autograph=False)
    def beam_search(self, inputs, alpha, max_length, min_length):
        """The n best hypotheses and their scores with run-time alpha, max and min length
        (alpha >= 0; max_length is capped at the export's; min_length at max_length), each a
        scalar or one value per input."""
        batch = tf.size(inputs)
        alpha, max_length, min_length = (per_input(v, batch, n) for v, n in (
            (alpha, "alpha"), (max_length, "max_length"), (min_length, "min_length")))
        limit = tf.clip_by_value(max_length, 1, self.max_target_length)
        ids, mask = self.encode_sources(inputs)
        out = self.search(ids, mask, alpha=tf.maximum(alpha, 0.0), length_limit=limit,
                          min_length=tf.clip_by_value(min_length, 0, limit))
        return {"outputs": self.detokenize(out["ids"]), "scores": out["scores"]}

    @tf.function(input_signature=[IDS, IDS], autograph=False)
    def generate_ids(self, input_ids, input_mask):
        """Beam search on token ids made by the client (special tokens included)."""
        out = self.search(input_ids[:, :self.max_source_length],
                          input_mask[:, :self.max_source_length])
        return {"output_ids": out["ids"], "lengths": out["lengths"], "scores": out["scores"]}

    @tf.function(input_signature=[STRINGS, STRINGS], autograph=False)
    def score(self, sources, targets):
        """Log-likelihood of each target given its source (sum over its tokens and the end
        token; targets cut to the export's max length) and the number of tokens scored."""
        inputs, labels = self.encoder.pairs(clean_strings(sources, self.max_input_bytes),
                                            clean_strings(targets, self.max_input_bytes))
        src_ids, src_mask = padded(inputs["encoder_token_ids"], self.source_pad_id)
        dec_ids, dec_mask = padded(inputs["decoder_token_ids"], self.target_pad_id)
        labels, _ = padded(labels, self.target_pad_id)
        logits = self.model({"encoder_token_ids": src_ids, "encoder_padding_mask": src_mask,
                             "decoder_token_ids": dec_ids, "decoder_padding_mask": dec_mask},
                            training=False)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        token = tf.gather(log_probs, labels, batch_dims=2) * tf.cast(dec_mask, tf.float32)
        return {"log_likelihood": tf.reduce_sum(token, axis=1),
                "num_tokens": tf.reduce_sum(dec_mask, axis=1)}

    @tf.function(autograph=False)
    def __call__(self, inputs, training=False):
        """The model's logits for a dict of int32 ids and masks (for reuse and fine-tuning)."""
        return self.model(inputs, training=training)

    def signatures(self):
        """The SavedModel signatures, by name."""
        return {"serving_default": self.generate, "beam_search": self.beam_search,
                "generate_ids": self.generate_ids, "score": self.score}
