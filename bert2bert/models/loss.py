"""The training loss: token cross-entropy averaged over real (unpadded) target tokens."""
from keras import ops


def masked_cross_entropy(labels, logits, mask, label_smoothing=0.0):
    """Mean cross-entropy of `logits` [B, T, V] against `labels` [B, T] where `mask` is 1.

    Computed in float32 with the fused sparse softmax cross-entropy. Padding never
    counts: a batch whose targets are all padding gives 0, not NaN. With
    `label_smoothing` eps the target distribution is (1 - eps) on the label and
    eps spread evenly over the vocabulary.
    """
    logits = ops.cast(logits, "float32")
    mask = ops.cast(mask, "float32")
    nll = ops.sparse_categorical_crossentropy(ops.cast(labels, "int32"), logits, from_logits=True)
    if label_smoothing:
        # -mean_v log p_v = logsumexp(logits) - mean_v logits
        smooth = ops.logsumexp(logits, axis=-1) - ops.mean(logits, axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)
