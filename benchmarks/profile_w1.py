"""Where W1's time goes: one beam step and one training step split into their parts, each
part timed on its own (compiled `tf.function`s, after warm-up) next to its arithmetic and the
time that arithmetic would take at the float32 matmul rate measured here. Not a test.

    .venv/bin/python benchmarks/profile_w1.py [--bf16] [--min-seconds 5] [--output DIR]

Beam step (8 sources x 4 beams = 32 rows, source 128, cache 32, as `bench_w1.py`): the
decoder's blocks on one token with the cache (self-attention, cross-attention, feed-forward),
the output projection [32 x 256] x [256 x 30522], each beam's best tokens with their
log-normaliser and the merge per source (`decoding.logits.top_next_tokens`), the gather of every cache by parent beam, and the whole
`decode_step` (blocks + projection). The rest of a measured beam-search step (the search's own
bookkeeping, the while-loop and host overhead) is the search per step minus those parts.
The beam step's parts are timed twice: as plain graphs and compiled by XLA (the profiler of
`profile_ops.py` sees no ops inside XLA-compiled code).
Training step (batch 16, source 128, target 32): the forward pass with the loss, forward and
backward, and the whole update (AdamW, clipping); the optimizer is the difference.

Prints a Markdown table and one JSON line (also written to OUTPUT/profile.json).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_w1 import cpu_facts, timed, w1_config, w1_train_step  # noqa: E402

BATCH, BEAMS, SRC, TGT, TRAIN_BATCH = 8, 4, 128, 32, 16


def per_call(function, min_seconds: float) -> float:
    """Milliseconds per call of `function()` after two warm-up calls, repeated for at least
    `min_seconds` (`bench_w1.timed`)."""
    import tensorflow as tf

    def first_output():  # an eager call returns once all its outputs are computed
        return tf.nest.flatten(function(), expand_composites=True)[0]

    for _ in range(2):
        first_output().numpy()
    per_second, _ = timed(first_output, min_seconds, least=3)
    return 1000 / per_second


def matmul_gflops(min_seconds: float, dtype: str) -> float:
    """The rate of a 1024^3 matmul here, GFLOP/s: what the arithmetic below is measured by."""
    import tensorflow as tf

    a = tf.random.normal([1024, 1024], dtype=dtype)
    f = tf.function(lambda: tf.matmul(a, a))
    return 2 * 1024 ** 3 / (per_call(f, min_seconds) / 1000) / 1e9


def beam_parts(model, min_seconds: float, xla: bool = False) -> dict:
    """{part: (ms, GFLOP)} of one beam step at position TGT // 2, each part a `tf.function`
    (compiled by XLA with `xla`: inside an XLA-compiled search TensorFlow's profiler sees no
    ops, so its parts are timed this way)."""
    import functools

    import numpy as np
    import tensorflow as tf

    compiled = functools.partial(tf.function, jit_compile=xla)

    from bert2bert.decoding.logits import top_next_tokens

    spec = model.spec.decoder
    rows, hidden, vocab = BATCH * BEAMS, spec.hidden_size, spec.vocab_size
    rng = np.random.default_rng(0)
    src = tf.constant(rng.integers(1000, vocab, (BATCH, SRC)), tf.int32)
    state = model.start_decoding(src, tf.ones_like(src), TGT, BEAMS)
    tokens = tf.constant(rng.integers(1000, vocab, (rows,)), tf.int32)
    step = tf.constant(TGT // 2)
    constants = state.constants

    @compiled
    def blocks():
        visible = (tf.range(TGT) <= step)[None, None, :]
        hidden_states, _ = model.decoder(
            tf.reshape(tokens, (-1, 1)), self_mask=visible,
            position_ids=tf.reshape(step + model.spec.decoder_position_shift, (1, 1)),
            cross_caches=constants.cross_key_values, cross_mask=constants.cross_mask,
            caches=state.cache, cache_index=step)
        return hidden_states

    hidden_states = blocks()[:, 0]
    projection = compiled(lambda: model.decoding_logits(hidden_states, state.output_matrix))
    logits = projection()
    buffer = tf.zeros([rows, TGT], tf.int32)

    @compiled
    def softmax_top_k():  # as beam_search does it: each beam's best, then the merge
        log_probs, _ = top_next_tokens(logits, buffer, step, 2 * BEAMS, end_id=102,
                                       min_length=TGT)
        return tf.math.top_k(tf.reshape(log_probs, [BATCH, -1]), k=2 * BEAMS)

    parents = tf.constant(rng.integers(0, rows, (rows,)), tf.int32)
    gather = compiled(lambda: tf.nest.map_structure(lambda t: tf.gather(t, parents),
                                                    state.cache))
    whole = compiled(lambda: model.decode_step(state, tokens, step)[0])

    layers, inter, length = spec.num_layers, spec.intermediate_size, TGT // 2 + 1
    per_token = layers * (2 * 4 * hidden * hidden  # q, k, v, o of self-attention
                          + 2 * 2 * hidden * hidden  # q, o of cross-attention
                          + 2 * 2 * hidden * inter  # feed-forward
                          + 2 * 2 * hidden * (length + SRC))  # attention scores and values
    block_flops = rows * per_token / 1e9
    projection_flops = 2 * rows * hidden * vocab / 1e9
    return {
        "decoder blocks (1 token, cached)": (per_call(blocks, min_seconds), block_flops),
        "output projection": (per_call(projection, min_seconds), projection_flops),
        "log-softmax + top-k": (per_call(softmax_top_k, min_seconds), 0.0),
        "cache gather (all layers)": (per_call(gather, min_seconds), 0.0),
        "decode_step (blocks + projection)": (per_call(whole, min_seconds),
                                              block_flops + projection_flops),
    }


def w1_search(model, xla: bool):
    """W1's whole beam search as a `tf.function` of no arguments (BATCH random sources of SRC
    tokens, TGT new tokens each: the end token is never allowed); returns the ids."""
    import numpy as np
    import tensorflow as tf

    from bert2bert.decoding import beam_search

    vocab = model.spec.decoder.vocab_size
    src = tf.constant(np.random.default_rng(1).integers(1000, vocab, (BATCH, SRC)), tf.int32)

    @tf.function(jit_compile=xla)
    def search():
        return beam_search(model, src, tf.ones_like(src), beam_size=BEAMS, max_length=TGT,
                           start_id=101, end_id=102, pad_id=0, alpha=0.6,
                           min_length=TGT)["ids"]

    return search


def search_step_ms(model, min_seconds: float, xla: bool) -> float:
    """One step of the whole beam search, ms."""
    return per_call(w1_search(model, xla), min_seconds) / TGT


def training_parts(model, min_seconds: float) -> dict:
    """{part: (ms, GFLOP)} of one training step of TRAIN_BATCH."""
    import tensorflow as tf

    from bert2bert.layers import fused
    from bert2bert.models.loss import masked_cross_entropy_sum

    step, inputs, tgt = w1_train_step(model, TRAIN_BATCH, SRC, TGT)
    vocab = model.spec.decoder.vocab_size

    def loss():  # with the fused passes, as the train step runs W1's fixed-shape batches
        with fused.passes(True):
            total, count = masked_cross_entropy_sum(tgt, model(inputs, training=True),
                                                    inputs["decoder_padding_mask"], fused_pass=True)
        return total / count

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            value = loss()
        return tape.gradient(value, model.trainable_variables)

    enc, dec = model.spec.encoder, model.spec.decoder
    h, v = dec.hidden_size, vocab
    encoder_macs = SRC * enc.num_layers * (4 * h * h + 2 * h * enc.intermediate_size
                                           + 2 * SRC * h)  # projections, FFN, attention
    decoder_macs = dec.num_layers * (
        TGT * (4 * h * h + 2 * h * h + 2 * h * dec.intermediate_size)  # self q,k,v,o; cross q,o
        + SRC * 2 * h * h  # cross-attention keys and values of the source
        + 2 * TGT * (TGT + SRC) * h)  # attention scores and weighted values
    forward = 2 * TRAIN_BATCH * (encoder_macs + decoder_macs + TGT * h * v) / 1e9
    return {
        "forward + loss": (per_call(tf.function(loss), min_seconds), forward),
        "forward + backward": (per_call(forward_backward, min_seconds), 3 * forward),
        "whole update (AdamW, clip)": (per_call(lambda: step((inputs, tgt))[0], min_seconds),
                                       3 * forward),
    }


def table(rows, gflops: float) -> str:
    lines = ["| part | ms | GFLOP | ms at the matmul rate | share of the limit |",
             "|---|---:|---:|---:|---:|"]
    for name, (ms, flop) in rows.items():
        limit = 1000 * flop / gflops if flop else 0.0
        share = f"{limit / ms:.0%}" if flop else ""
        lines.append(f"| {name} | {ms:.2f} | {flop:.3f} | {limit:.2f} | {share} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--min-seconds", type=float, default=5.0, help="timed work per part")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--output", default=os.path.join("runs", "profile_w1"))
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from bert2bert.models import build_model

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    model = build_model(w1_config(args.bf16, dropout=0.1))
    gflops = matmul_gflops(args.min_seconds, "bfloat16" if args.bf16 else "float32")
    beam = {}
    for xla in (False, True):  # the plain graph's parts, then the same parts compiled by XLA
        parts = beam_parts(model, args.min_seconds, xla)
        search = search_step_ms(model, args.min_seconds, xla)
        known = sum(parts[k][0] for k in ("decode_step (blocks + projection)",
                                          "log-softmax + top-k", "cache gather (all layers)"))
        graph = " (XLA)" if xla else " (plain)"
        beam.update({name + graph: value for name, value in parts.items()})
        beam["rest of a search step (bookkeeping, loop, host)" + graph] = (search - known, 0.0)
        beam["whole search step" + graph] = (search,
                                            parts["decode_step (blocks + projection)"][1])
    train = training_parts(model, args.min_seconds)
    result = {**cpu_facts(), "precision": "mixed_bfloat16" if args.bf16 else "float32",
              "matmul_gflops": round(gflops, 1),
              "beam_step_ms": {k: [round(v[0], 3), round(v[1], 4)] for k, v in beam.items()},
              "train_step_ms": {k: [round(v[0], 2), round(v[1], 3)] for k, v in train.items()}}
    text = (f"W1 on {result['cpu_model']} ({', '.join(result['cpu_flags'])}), "
            f"{result['precision']}, matmul {gflops:.0f} GFLOP/s\n\nBeam step (32 rows)\n\n"
            + table(beam, gflops) + "\n\nTraining step (batch 16)\n\n" + table(train, gflops))
    print(text)
    print(json.dumps(result), flush=True)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "profile.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.output, "profile.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
