"""Where W1's memory goes: the resident set after each phase of `bench_w1.py`'s work (the
import floor, the model built, the optimizer built, training steps, the beam search as a plain
graph and with XLA) and, with `--tensors`, the bytes of live tensors (TensorFlow's BFC
allocator, which the script turns on for that) and the tensors alive at a training step's
memory peak, by part. Not a test.

    .venv/bin/python benchmarks/profile_memory.py [--bf16] [--tensors] [--top 12]

RSS figures are MiB above the import floor (`import tensorflow, tensorflow_text`), as
`bench_w1.py`'s working set: "peak" is the process's high-water mark so far, "now" its
current resident set. The resident set above the live tensors is the runtime's own memory
(graphs, kernels, XLA's compiler, the allocators' free lists).
"""
import argparse
import collections
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_w1 import cpu_facts, rss_mib, w1_config, w1_train_step  # noqa: E402
from profile_ops import planes  # noqa: E402
from profile_w1 import BATCH, SRC, TGT, TRAIN_BATCH, w1_search  # noqa: E402

MIB = 2 ** 20


def current_rss() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS"))


def part_of_tensor(op: str) -> str:
    """The part of the training step a tensor alive at the peak belongs to (by its op)."""
    if not op:
        return "buffers of XLA-compiled passes (GELU, LayerNorm, the loss's float32 work)"
    if "adam" in op:
        return "optimizer"
    if "encoder" in op:
        return "encoder activations"
    if "decoder" in op:
        return "decoder activations"
    if op.endswith("MatMul"):  # the one product outside the stacks: the tied projection
        return "logits [tokens x vocabulary]"
    return "the rest"


def tensors_at_peak(logdir: str):
    """(peak bytes allocated during the traced run, the allocations alive at that moment)
    from the profiler's memory events (BFC allocator)."""
    events = []
    for plane in planes(logdir):
        stat_names = {k: v.name for k, v in plane.stat_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name not in ("MemoryAllocation", "MemoryDeallocation"):
                    continue
                stats = {stat_names[s.metadata_id]: s.str_value or s.int64_value
                         or s.uint64_value or (plane.stat_metadata[s.ref_value].name
                                               if s.ref_value else "")
                         for s in event.stats}
                events.append((line.timestamp_ns * 1000 + event.offset_ps, name, stats))
    live, now, best, at_best = {}, 0, 0, {}
    for _, name, stats in sorted(events, key=lambda e: e[0]):
        if name == "MemoryAllocation":
            live[stats["addr"]] = stats
            now += stats["requested_bytes"]
            if now > best:
                best, at_best = now, dict(live)
        elif stats["addr"] in live:
            now -= live.pop(stats["addr"])["requested_bytes"]
    return best, list(at_best.values())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--tensors", action="store_true",
                   help="also live tensor bytes and the tensors at the training peak (BFC)")
    p.add_argument("--top", type=int, default=12, help="tensors at the peak listed one by one")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.tensors:  # before TensorFlow starts: its CPU allocator then counts live bytes
        os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    import keras
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 - part of the import floor, as in bench_w1

    from bert2bert.models import build_model

    tf.config.threading.set_intra_op_parallelism_threads(2)
    floor = rss_mib()
    rows = []

    def phase(name):
        row = {"phase": name, "peak_MiB": round(rss_mib() - floor, 1),
               "now_MiB": round(current_rss() - floor, 1)}
        if args.tensors:
            info = tf.config.experimental.get_memory_info("CPU:0")
            row.update(tensors_now_MiB=round(info["current"] / MIB, 1),
                       tensors_peak_MiB=round(info["peak"] / MIB, 1))
        rows.append(row)

    keras.utils.set_random_seed(0)
    model = build_model(w1_config(args.bf16, dropout=0.1))
    phase("model built (weights)")
    step, inputs, labels = w1_train_step(model, TRAIN_BATCH, SRC, TGT)
    phase("optimizer built (Adam moments)")
    float(step((inputs, labels))[0])
    phase("first training step (tracing, first run)")
    for _ in range(4):
        float(step((inputs, labels))[0])
    phase("four more training steps")
    at_peak = None
    if args.tensors:
        with tempfile.TemporaryDirectory() as logdir:
            tf.profiler.experimental.start(logdir)
            float(step((inputs, labels))[0])
            tf.profiler.experimental.stop()
            at_peak = tensors_at_peak(logdir)
    for xla in (False, True):
        search = w1_search(model, xla)
        for _ in range(2):
            search().numpy()
        phase(f"beam search {BATCH} x 4, {'XLA' if xla else 'plain graph'} (compiled, run)")

    facts = cpu_facts()
    keys = [k for k in rows[0] if k != "phase"]
    lines = [f"W1 memory, {'mixed_bfloat16' if args.bf16 else 'float32'}, on "
             f"{facts['cpu_model']} ({', '.join(facts['cpu_flags'])}); MiB above the import "
             f"floor of {floor:.0f} MiB", "",
             "| phase | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    lines += ["| " + " | ".join([r["phase"]] + [f"{r[k]:.0f}" for k in keys]) + " |"
              for r in rows]
    result = {**facts, "precision": "mixed_bfloat16" if args.bf16 else "float32",
              "import_floor_MiB": round(floor, 1), "phases": rows}
    if at_peak:
        total, tensors = at_peak
        parts = collections.Counter()
        for t in tensors:
            parts[part_of_tensor(t.get("tf_op", ""))] += t["requested_bytes"]
        lines += ["", f"Tensors allocated by a training step and alive at its peak: "
                      f"{total / MIB:.0f} MiB (weights and Adam moments not included)", "",
                  "| part | MiB |", "|---|---:|"]
        lines += [f"| {part} | {b / MIB:.1f} |" for part, b in parts.most_common() if b >= MIB / 10]
        lines += ["", "Largest of them:", ""]
        lines += [f"- {t['requested_bytes'] / MIB:.1f} MiB {t.get('shape') or ''} "
                  f"`{t.get('tf_op') or '(XLA)'}`"
                  for t in sorted(tensors, key=lambda t: -t["requested_bytes"])[:args.top]]
        result["training_peak_tensors_MiB"] = {k: round(v / MIB, 1) for k, v in parts.items()}
    print("\n".join(lines))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
