"""Parameter accounting in the form of the paper's Table 1, from a built model."""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ParameterCounts:
    """Counts of unique parameters (a shared variable counts once)."""

    total: int
    embedding: int  # word, position and token-type tables and the embedding LayerNorm
    from_checkpoint: int  # warm-startable from a public checkpoint
    random: int  # randomly initialised (random stacks and all cross-attention)
    variables: int  # number of unique variables
    bytes: int  # their total size in memory


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
    for stack in (model.encoder, model.decoder):
        if stack is None:
            continue
        cross = {id(v) for v in stack.cross_attention_weights()}
        embedding_ids.update(id(v) for v in stack.embeddings.weights)
        for v in stack.weights:
            unique[id(v)] = v
            if stack.spec.warm and id(v) not in cross:
                warm_ids.add(id(v))
    if model.output_head is not None:  # BERT's public checkpoints carry it (cls/predictions)
        for v in model.output_head.weights:
            unique[id(v)] = v
            if model.decoder.spec.warm:
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
