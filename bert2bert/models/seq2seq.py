"""What every model of the grid shares: the tied output projection, the loss, the decoding
cache and saving. The two kinds are `EncoderDecoderLM` and `PrefixLM` (`gpt`)."""
import keras
import tensorflow as tf
from keras import ops

from bert2bert.layers import LanguageModelHead, fused
from bert2bert.models.loss import masked_cross_entropy
from bert2bert.models.stacks import TransformerStack
from bert2bert.spec import ArchSpec, ModelSpec

INPUT_KEYS = ("encoder_token_ids", "encoder_padding_mask",
              "decoder_token_ids", "decoder_padding_mask")


def causal_mask(length, dtype="bool"):
    """[T, T] lower-triangular mask: query t sees keys 0..t."""
    idx = ops.arange(length)
    return ops.cast(idx[:, None] >= idx[None, :], dtype)


class Seq2SeqModel(keras.Model):
    """Base class of the grid's models, built from a `ModelSpec`.

    Inputs (a dict, all [B, len]; token ids int32, masks 1 for real tokens):
        encoder_token_ids, encoder_padding_mask   the source (for `gpt`: the prefix)
        decoder_token_ids, decoder_padding_mask   the target shifted right (start token first)
    Output: float32 logits [B, T_dec, decoder vocab], position t predicting target t (inside
    a train step's fused passes, `layers.fused.passes`: in the compute dtype, for the fused
    loss, which computes in float32 itself).

    Incremental decoding (`bert2bert.decoding.DecodingState`):
    `state = start_decoding(src_ids, src_mask, max_len, beams=1)`, then
    `logits, state = decode_step(state, token_ids, step)` for step 0, 1, ... (`beams`
    consecutive rows per source).

    Args:
        spec: the `ModelSpec` (`bert2bert.resolve.model_spec` makes one from a config).
        label_smoothing: of the training loss (`compute_loss`).
        dtype: the Keras dtype policy (a name such as "mixed_bfloat16").
    """

    def __init__(self, spec: ModelSpec, label_smoothing=0.0, **kwargs):
        if isinstance(spec, dict):
            spec = ModelSpec.from_dict(spec)
        kwargs.setdefault("name", spec.variant)
        super().__init__(**kwargs)
        self.spec = spec.check()
        self.label_smoothing = label_smoothing

    def _stack(self, spec: ArchSpec, name: str, **kwargs) -> TransformerStack:
        return TransformerStack(spec, dtype=self.dtype_policy, name=name, **kwargs)

    def _make_output_head(self):
        dec = self.spec.decoder
        self.output_head = None
        if self.spec.output_head != "tied":
            self.output_head = LanguageModelHead(
                dec.hidden_size, dec.vocab_size, dec.approximate_gelu, dec.layer_norm_epsilon,
                dec.initializer_range, transform=self.spec.output_head == "lm_head",
                dtype=self.dtype_policy, name="output_head")

    @property
    def decoder_only(self) -> bool:
        return self.spec.decoder_only

    def build(self, inputs_shape=None):
        self._build_stacks((None, None))
        if self.output_head is not None:
            self.output_head.build()
        self.built = True

    # ------------------------------------------------------------------ output

    def logits(self, hidden, training=None):
        """Output projection tied to the decoder's word embeddings; float32 logits.

        With `output_head=lm_head` the hidden states pass BERT's head transform first; with
        `lm_head` or `bias` the output bias is added. The matrix is used as stored,
        [vocab, hidden] (no transposed copy per call). In a train step's fused passes
        (`fused.active(training)`) the logits stay in the compute dtype: under mixed bfloat16
        the fused loss reads them as they are instead of a float32 copy (half the bytes, the
        same loss and gradient).
        """
        shape = ops.shape(hidden)
        product = self._project(ops.reshape(hidden, (-1, shape[-1])))
        if not fused.active(training):
            product = ops.cast(product, "float32")
        return ops.reshape(product, (*shape[:-1], self.spec.decoder.vocab_size))

    def output_matrix(self):
        """The tied output projection as decoding uses it: float32 [hidden, vocab], made once
        per search (`start_decoding` puts it in the `DecodingState`).

        A step's few rows times [hidden, vocab] ran twice as fast as the same product against
        the stored [vocab, hidden] with the transpose folded in (W1: 5 against 10 ms a step
        on an AVX2-only AMD EPYC, family 25 model 1; level on a Sapphire Rapids); float32, so
        a bfloat16 model does not cast the whole matrix at every step.
        """
        return ops.transpose(ops.cast(self.decoder.word_embeddings.embeddings, "float32"))

    def decoding_logits(self, hidden, matrix=None):
        """float32 logits [rows, V] of one step's hidden states [rows, H], computed in float32
        against `matrix` (`output_matrix()`), or without one against the stored matrix: the
        same numbers as `logits`."""
        return self._project(hidden, "float32", matrix)

    def _project(self, rows, dtype=None, matrix=None):
        """rows [N, H] -> [N, V] in `dtype` (default: the rows' own after the head transform),
        against `matrix` [H, V] or the stored [V, H] with the transpose folded in (a 2-D
        product: an einsum with "..." here has a gradient that broadcasts the matrix over
        every position, gigabytes)."""
        if self.output_head is not None:
            rows = self.output_head.transform(rows)
        dtype = dtype or rows.dtype
        rows = ops.cast(rows, dtype)
        if matrix is None:
            kernel = ops.cast(self.decoder.word_embeddings.embeddings, dtype)
            product = tf.linalg.matmul(rows, kernel, transpose_b=True)
        else:
            product = tf.linalg.matmul(rows, matrix)
        if self.output_head is not None:
            product = product + ops.cast(self.output_head.bias, dtype)
        return product

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Token cross-entropy over real target tokens (from `decoder_padding_mask`)."""
        if self.loss is not None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        weights = x["decoder_padding_mask"] if sample_weight is None else sample_weight
        loss = masked_cross_entropy(y, y_pred, weights, self.label_smoothing)
        return ops.add_n([loss] + list(self.losses)) if self.losses else loss

    def _new_cache(self, batch, length):
        spec = self.spec.decoder
        shape = (batch, spec.num_heads, length, spec.head_size)
        zeros = ops.zeros(shape, dtype=self.compute_dtype)
        return [(zeros, zeros) for _ in self.decoder.blocks]

    # ------------------------------------------------------------------ saving

    def get_config(self):
        return {"spec": self.spec.to_dict(), "label_smoothing": self.label_smoothing,
                "name": self.name, "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def teacher_forcing_inputs(source_ids, source_mask, target_ids, target_mask, start_id):
    """Model inputs and labels for training: the decoder reads the target shifted right.

    Returns `(inputs, labels)`; `labels` is `target_ids` and the loss counts the
    positions where `target_mask` is 1.
    """
    batch = ops.shape(target_ids)[0]
    start = ops.full((batch, 1), start_id, dtype=target_ids.dtype)
    decoder_ids = ops.concatenate([start, target_ids[:, :-1]], axis=1)
    inputs = {
        "encoder_token_ids": source_ids,
        "encoder_padding_mask": source_mask,
        "decoder_token_ids": decoder_ids,
        "decoder_padding_mask": target_mask,
    }
    return inputs, target_ids
