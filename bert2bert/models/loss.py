"""The training loss: token cross-entropy over real (unpadded) target tokens."""
from keras import ops

from bert2bert.layers import fused


def token_cross_entropy(labels, logits, label_smoothing=0.0, fused_pass=False):
    """Per-token cross-entropy [B, T] in float32 (fused sparse softmax cross-entropy).

    With `label_smoothing` eps the target distribution is (1 - eps) on the label
    and eps spread evenly over the vocabulary. `fused_pass`: one XLA-compiled pass over
    the logits each way (`layers.fused.sparse_cross_entropy`; the train step's choice).
    """
    if fused_pass:
        return fused.sparse_cross_entropy(labels, logits, label_smoothing)
    logits = ops.cast(logits, "float32")
    nll = ops.sparse_categorical_crossentropy(ops.cast(labels, "int32"), logits, from_logits=True)
    if label_smoothing:
        # -mean_v log p_v = logsumexp(logits) - mean_v logits
        smooth = ops.logsumexp(logits, axis=-1) - ops.mean(logits, axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    return nll


def masked_cross_entropy_sum(labels, logits, mask, label_smoothing=0.0, fused_pass=False):
    """(sum of token losses where `mask` is 1, number of such tokens), both float32.

    Distributed training divides the sum by the GLOBAL token count, so that every
    replica count gives the same gradient as one device. `fused_pass`: see
    `token_cross_entropy`.
    """
    mask = ops.cast(mask, "float32")
    nll = token_cross_entropy(labels, logits, label_smoothing, fused_pass)
    return ops.sum(nll * mask), ops.sum(mask)


def masked_cross_entropy(labels, logits, mask, label_smoothing=0.0):
    """Mean cross-entropy of `logits` [B, T, V] against `labels` [B, T] where `mask` is 1.

    Padding never counts: a batch whose targets are all padding gives 0, not NaN.
    """
    total, count = masked_cross_entropy_sum(labels, logits, mask, label_smoothing)
    return total / ops.maximum(count, 1.0)
