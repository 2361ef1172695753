"""Parameter accounting of a built model (`bert2bert.parameters` does it from the spec)."""
import numpy as np

from bert2bert.parameters import ParameterCounts


def _size(variable) -> int:
    return int(np.prod(variable.shape))


def count_parameters(model) -> ParameterCounts:
    """Classifies every unique variable of a built `Seq2SeqModel`.

    A variable is warm-startable when it belongs to a warm-started stack and is
    not part of a cross-attention sub-block (the masked-LM head of `output_head=lm_head`
    counts with the decoder); a variable used by two stacks
    (sharing) counts once, as warm-startable if either stack is warm.
    """
    unique = {}
    warm_ids, embedding_ids = set(), set()
    for side in ("encoder", "decoder"):
        stack = getattr(model, side)
        if stack is None:
            continue
        cross = {id(v) for v in stack.cross_attention_weights()}
        embedding_ids.update(id(v) for v in stack.embeddings.weights)
        for v in stack.weights:
            unique[id(v)] = v
            if model.spec.warm(side) and id(v) not in cross:
                warm_ids.add(id(v))
    if model.output_head is not None:  # BERT's public checkpoints carry it (cls/predictions)
        for v in model.output_head.weights:
            unique[id(v)] = v
            if model.spec.decoder_warm:
                warm_ids.add(id(v))
    total = sum(_size(v) for v in unique.values())
    warm = sum(_size(unique[i]) for i in warm_ids)
    return ParameterCounts(
        total=total,
        embedding=sum(_size(unique[i]) for i in embedding_ids),
        from_checkpoint=warm,
        random=total - warm,
        variables=len(unique),
        bytes=sum(_size(v) * np.dtype(v.dtype).itemsize for v in unique.values()),
    )
