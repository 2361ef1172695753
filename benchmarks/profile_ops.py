"""Where a W1 beam-search step's (or, with `--train`, a training step's) time goes, op by
op: TensorFlow's profiler on the real search (`bert2bert.decoding.beam_search` in one
`tf.function`, plain graph or XLA) or the real update (`make_train_step`, batch 16), its
kernels summed by part. Not a test; see also `profile_w1.py` (parts timed alone).

    .venv/bin/python benchmarks/profile_ops.py [--bf16] [--xla] [--runs 3] [--top 15]
    .venv/bin/python benchmarks/profile_ops.py --train [--bf16] [--runs 3]

Times are kernel time per search step: each kernel from its start to its end, summed over
TensorFlow's inter-op threads (two kernels can run at once, so the sum can exceed the wall
time, and a kernel's own worker threads are not counted twice); the last rows are the
kernels' sum and the wall time of a step (the executor's scheduling is the difference). Parts: the decoder's self-attention (projections, cache
write, scores), cross-attention, feed-forward and LayerNorms; the output projection; the
candidate search (`top_next_tokens`: top-k and log-normaliser, and the merge); the cache
gather by parent beam; the encoder (once per search, spread over its steps); the rest.
Training parts: matrix products (forward and backward, all layers and the output
projection), GELU, LayerNorm, dropout, the softmax cross-entropy, the rest of attention
(mask, softmax, scaling), transposes, the embedding gradients, gradient clipping, the
AdamW update, the rest. Prints a Markdown table, the `--top` most expensive kernels and
one JSON line.
"""
import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_w1 import cpu_facts, w1_config, w1_train_step  # noqa: E402
from profile_w1 import BATCH, BEAMS, SRC, TGT, TRAIN_BATCH, w1_search  # noqa: E402

PARTS = ("decoder self-attention", "decoder cross-attention", "decoder feed-forward",
         "decoder LayerNorms and residuals", "decoder embeddings", "output projection",
         "candidates: top-k, log-normaliser, merge", "cache gather by parent beam",
         "encoder (once per search)", "search bookkeeping and the rest")


def part_of(name: str, op: str) -> str:
    """The part of `PARTS` a kernel named `name` (its node's scope) of type `op` belongs to."""
    if "encoder" in name:
        return PARTS[8]
    if "decoder" in name:
        for key, part in (("_norm", 3), ("self_attention", 0), ("cross_attention", 1),
                          ("feed_forward", 2), ("embeddings", 4)):
            if key in name:
                return PARTS[part]
        return PARTS[3]
    if "/candidates/" in name:  # beam_search's name scopes
        return PARTS[6]
    if "/reorder_cache/" in name:
        return PARTS[7]
    if op.endswith("MatMul"):  # the tied projection is the one matmul outside the blocks
        return PARTS[5]
    return PARTS[9]


TRAIN_PARTS = ("matrix products", "GELU", "LayerNorm", "dropout", "softmax cross-entropy",
               "attention: mask, softmax, scaling", "transposes", "embedding gradients",
               "gradient clipping", "AdamW update", "the rest",
               "XLA-fused passes (GELU, LayerNorm, cross-entropy: layers/fused.py)")


def train_part_of(name: str, op: str) -> str:
    """The part of `TRAIN_PARTS` a kernel of a training step belongs to (XLA's compiled
    clusters show as the thunk executor's events, not by name)."""
    if name.startswith("ThunkExecutor"):
        return TRAIN_PARTS[11]
    if "MatMul" in op:
        return TRAIN_PARTS[0]
    if "global_norm" in name or op == "L2Loss":
        return TRAIN_PARTS[8]
    for keys, part in ((("Gelu", "gelu"), 1), (("_norm", "layer_norm"), 2), (("dropout",), 3),
                       (("cross_entropy", "CrossEntropy"), 4)):
        if any(k in name for k in keys):
            return TRAIN_PARTS[part]
    if "Transpose" in op:
        return TRAIN_PARTS[6]
    if op in ("UnsortedSegmentSum", "GatherV2", "AddN", "Tile"):
        return TRAIN_PARTS[7]
    if "attention" in name:
        return TRAIN_PARTS[5]
    if "adam" in name or op.startswith("ResourceApply"):
        return TRAIN_PARTS[9]
    return TRAIN_PARTS[10]


def planes(logdir: str):
    """The profiler's planes (XPlane protos) of every trace written to `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        yield from space.planes


def kernel_times(logdir: str):
    """{(node name, op type): picoseconds} of the kernels traced in `logdir`."""
    totals = collections.Counter()
    for plane in planes(logdir):
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                node, _, op = name.rpartition(":")  # "scope/node:OpType"
                if node and not node.startswith("ExecutorState"):  # kernels only
                    totals[(node, op)] += event.duration_ps
    return totals


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--xla", action="store_true", help="compile the search with XLA")
    p.add_argument("--runs", type=int, default=3, help="searches traced")
    p.add_argument("--top", type=int, default=15, help="kernels listed one by one")
    p.add_argument("--train", action="store_true", help="a training step instead")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from bert2bert.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model(w1_config(args.bf16, dropout=0.1))
    if args.train:
        step, inputs, labels = w1_train_step(model, TRAIN_BATCH, SRC, TGT)
        run, steps_per_run, what = (lambda: step((inputs, labels))[0]), 1, (
            f"W1 training step (batch {TRAIN_BATCH})")
        names, classify = TRAIN_PARTS, train_part_of
    else:
        run, steps_per_run, what = w1_search(model, args.xla), TGT, (
            f"W1 beam step ({BATCH} x {BEAMS} rows)")
        names, classify = PARTS, part_of
    for _ in range(2):  # tracing, the first run of the graph
        run().numpy()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        tic = time.perf_counter()
        for _ in range(args.runs):
            run().numpy()
        wall = (time.perf_counter() - tic) / args.runs / steps_per_run * 1000
        tf.profiler.experimental.stop()
        kernels = kernel_times(logdir)
    steps = args.runs * steps_per_run
    ms = {k: v / 1e9 / steps for k, v in kernels.items()}  # ps -> ms per step
    parts = collections.Counter()
    for (node, op), t in ms.items():
        parts[classify(node, op)] += t
    total = sum(parts.values())
    if not total:
        sys.exit("profile_ops.py: the profiler recorded no kernels"
                 + (": an XLA-compiled search runs as compiled code whose ops TensorFlow's CPU "
                    "profiler does not see; profile the plain graph, or time the parts with "
                    "XLA in profile_w1.py" if args.xla else ""))
    facts = cpu_facts()
    lines = [f"{what}, {'mixed_bfloat16' if args.bf16 else 'float32'}, "
             f"{'XLA' if args.xla else 'plain graph'}, on {facts['cpu_model']} "
             f"({', '.join(facts['cpu_flags'])})", "",
             "| part | kernel ms per step | share |", "|---|---:|---:|"]
    lines += [f"| {part} | {parts[part]:.2f} | {parts[part] / total:.0%} |" for part in names]
    lines += [f"| all kernels | {total:.2f} | 100% |",
              f"| wall time of a step (profiler on) | {wall:.2f} | |", "",
              "Most expensive kernels (ms per step):", ""]
    lines += [f"- {t:.2f} `{node}` ({op})" for (node, op), t in
              sorted(ms.items(), key=lambda kv: -kv[1])[:args.top]]
    print("\n".join(lines))
    print(json.dumps({**facts, "precision": "mixed_bfloat16" if args.bf16 else "float32",
                      "xla": args.xla, "train": args.train, "wall_ms_per_step": round(wall, 3),
                      "kernel_ms_per_step": {k: round(parts[k], 3) for k in names}}))


if __name__ == "__main__":
    main()
