"""The `bert2bert` command line.

    bert2bert variants [--size base|large] [--json] [--set model.key=value ...]
    bert2bert config [--config FILE] [--set section.key=value ...]
    bert2bert inspect PATH [--format NAME] [--json]
    bert2bert warm-start --config FILE [--set ...] --output DIR
    bert2bert prepare --config FILE --output DIR [--splits train,validation] [--shards N]
    bert2bert train --config FILE --model_dir DIR [--strategy S] [--eval_every N] [--set ...]
    bert2bert evaluate --model_dir DIR [--checkpoint N | --continuous] [--split S] [--strategy S]
    bert2bert score --metric M --hyp F --ref F [--src F]
    bert2bert export --model_dir DIR --output EXPORT_DIR [--beam 4 --alpha 0.6 ...]
    bert2bert predict (--model_dir DIR | --saved_model DIR) --input FILE --output FILE
    bert2bert demo [--output DIR] [--steps N] [--data FILE --eval_data FILE]

A mistake in the input (config, data, checkpoint, option, file) is one line on stderr and exit
code 2; any other error is an internal error (exit code 1); `--debug` prints its traceback.
"""
import argparse
import dataclasses
import glob
import json
import os
import sys
from typing import Optional

from bert2bert import textfiles
from bert2bert.errors import Bert2BertError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ noise (CUDA probing); errors still raise


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M"


def cmd_variants(args) -> int:
    """Prints the paper's Table 1 for one size, counted by arithmetic on each variant's spec
    (the same numbers as the built models: tested), so no model is built."""
    from bert2bert import grid
    from bert2bert.config import load_config
    from bert2bert.parameters import parameters_from_spec
    from bert2bert.resolve import model_spec

    rows = []
    for name, variant in grid.VARIANTS.items():
        config = load_config(args.config, [f"model.variant={name}", f"model.size={args.size}"]
                             + list(args.set or []))
        counts = parameters_from_spec(model_spec(config.model))
        row = {"variant": name, "size": args.size, **dataclasses.asdict(counts)}
        if args.size == "base" and not args.set and not args.config:
            row["paper_total"] = variant.paper_total_params_m * 1_000_000
            row["relative_difference"] = round(counts.total / row["paper_total"] - 1, 4)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'variant':<14}{'total':>10}{'embedding':>12}{'from ckpt':>12}{'random':>10}"
    if "paper_total" in rows[0]:
        header += f"{'paper':>9}"
    print(header)
    for r in rows:
        line = (f"{r['variant']:<14}{_millions(r['total']):>10}{_millions(r['embedding']):>12}"
                f"{_millions(r['from_checkpoint']):>12}{_millions(r['random']):>10}")
        if "paper_total" in r:
            line += f"{_millions(r['paper_total']):>9}"
        print(line)
    return 0


def cmd_config(args) -> int:
    """Prints the fully resolved config (defaults, includes and overrides applied)."""
    from bert2bert.config import load_config

    print(load_config(args.config, args.set or []).to_yaml(), end="")
    return 0


def cmd_warm_start(args) -> int:
    """Builds the config's model from its checkpoints, reports, and saves it next to the report
    and the config with the model shape resolved from the checkpoints."""
    from bert2bert.config import load_config
    from bert2bert.factory import warm_started
    from bert2bert import atomic

    cfg = load_config(args.config, args.set or [])
    if textfiles.isdir(args.output) and textfiles.listdir(args.output) and not args.overwrite:
        raise FileExistsError(f"{args.output} is not empty; give a new --output, or pass "
                              "--overwrite to replace its files")
    resolved, model, report, _ = warm_started(cfg, strict=not args.no_strict)
    print(report.summary())
    report_path = atomic.write_json(textfiles.join(args.output, "warm_start.json"),
                                   report.to_dict())
    atomic.write_text(textfiles.join(args.output, "config.yaml"), resolved.to_yaml())
    model_path = textfiles.join(args.output, "model.keras")
    with atomic.replacing(model_path) as tmp:
        model.save(tmp)
    print(f"wrote {model_path}, {report_path} and config.yaml")
    return 0


def _logging():
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def cmd_train(args) -> int:
    """Trains (or resumes) a run in --model_dir; optionally evaluates every N steps."""
    from bert2bert.config import load_config
    from bert2bert.data.preflight import preflight

    overrides = list(args.set or [])
    if args.eval_every is not None:
        overrides.append(f"train.eval_every={args.eval_every}")
    cfg = load_config(args.config, overrides)
    from bert2bert.errors import UsageError

    if cfg.train.keep_best.metric and not cfg.train.eval_every:
        raise UsageError("train.keep_best needs evaluations: set train.eval_every "
                         "(--eval_every)")
    if textfiles.exists(args.model_dir) and not textfiles.isdir(args.model_dir):
        raise NotADirectoryError(f"--model_dir {args.model_dir}: exists and is not a directory")
    preflight(cfg, ["train", "validation"] if cfg.train.eval_every else ["train"])
    from bert2bert.training.loop import NonFiniteLossError, train  # slow: after the checks

    _logging()
    evaluate_fn = None
    if cfg.train.eval_every:
        from bert2bert.evaluation import Evaluator

        evaluator = None  # one for the whole run: built and traced at the first evaluation

        def evaluate_fn(model_dir, step):  # in the run's strategy scope (loop.py)
            import tensorflow as tf

            nonlocal evaluator
            if evaluator is None:
                evaluator = Evaluator(model_dir, strategy=tf.distribute.get_strategy())
            metrics = evaluator(step)
            print(json.dumps(metrics), flush=True)
            return metrics
    try:
        result = train(cfg, args.model_dir, args.strategy, args.tpu, evaluate_fn=evaluate_fn,
                       overwrite=args.overwrite)
    except NonFiniteLossError as e:
        print(f"bert2bert: {e}", file=sys.stderr)
        return 3
    print(f"trained {result.model_dir} from step {result.start_step} to {result.final_step}; "
          f"last loss {result.last_loss:.4f}")
    return 0


def cmd_prepare(args) -> int:
    """Writes the task's splits as TFRecord shards of token ids and a manifest (training
    reads them with task.file_format: prepared, task.data_dir: --output)."""
    from bert2bert.config import load_config

    from bert2bert.data.manifest import check_output

    cfg = load_config(args.config, args.set or [])
    check_output(args.output)
    from bert2bert.data.prepared import prepare_task, split_names  # TensorFlow: after the checks

    done = prepare_task(cfg, args.output, split_names(args.splits), args.shards)
    counts = ", ".join(f"{k}: {v.total} examples in {len(v.files)} shards"
                       for k, v in done.manifest.splits.items())
    print(f"prepared {done.directory} ({counts}); train with task.file_format=prepared "
          f"task.data_dir={done.directory}")
    return 0


def cmd_import(args) -> int:
    """A whole released encoder-decoder becomes a run directory (config, vocab, ckpt-0);
    `import_model` checks the checkpoint, config and output before any model is built."""
    from bert2bert.training.import_model import import_model

    _logging()
    result = import_model(args.path, args.output, args.config, args.set or [],
                          overwrite=args.overwrite)
    s = result.settings
    print(f"imported {args.path} as {s.variant} (output_head={s.output_head}, "
          f"share_embeddings={s.share_embeddings}) into {result.run_dir}; evaluate, predict, "
          "export and train (fine-tuning from step 0) work on it")
    return 0


def cmd_average(args) -> int:
    """The mean of a run's newest N checkpoints as a new run directory (t2t-avg-all)."""
    from bert2bert.training.average import average_checkpoints

    prefix = average_checkpoints(args.model_dir, args.last, args.output)
    print(f"averaged the newest {args.last} checkpoint(s) of {args.model_dir} into {prefix}")
    return 0


def cmd_evaluate(args) -> int:
    """Decodes a split with a checkpoint of a run and writes predictions and metrics."""
    from bert2bert.data.preflight import preflight_run

    preflight_run(args.model_dir, [args.split])  # before TensorFlow: a run, and its split
    from bert2bert.evaluation import evaluate, evaluate_continuously

    _logging()
    if args.continuous:
        evaluate_continuously(args.model_dir, args.split, args.timeout, args.max_examples,
                              strategy=args.strategy, tpu=args.tpu)
        return 0
    print(json.dumps(evaluate(args.model_dir, args.checkpoint, args.split, args.max_examples,
                              strategy=args.strategy, tpu=args.tpu), indent=1))
    return 0


def cmd_score(args) -> int:
    """Scores a hypothesis file against references (and sources, for SARI)."""
    from bert2bert.textfiles import text_lines
    from bert2bert.errors import UsageError
    from bert2bert.metrics import score_files

    if args.metric == "sari" and not args.src:
        raise UsageError("--src is required for sari")
    for path in filter(None, (args.hyp, args.ref, args.src)):
        for _ in text_lines(path):  # exists and is UTF-8, else one line naming file and line
            pass
    try:
        scores = score_files(args.metric, args.hyp, args.ref, args.src)
    except ValueError as e:  # files of different lengths
        raise UsageError(str(e)) from None
    print(json.dumps(scores))
    return 0


def cmd_inspect(args) -> int:
    """Prints what a checkpoint is: format, config, vocabulary, variables and parameters.
    Reads files only: a SavedModel's graph is never loaded or run (safe on a download)."""
    pattern = (args.path if textfiles.is_url(args.path) else glob.escape(args.path)) + "*"
    if not args.path.startswith("package:") and not textfiles.glob(pattern):
        raise FileNotFoundError(f"{args.path}: no such checkpoint file or directory")
    from bert2bert.checkpoints import open_checkpoint  # imports TensorFlow: after the check

    reader = open_checkpoint(args.path, args.format)
    info = reader.summary()
    info["vocabulary"] = vocabulary_info(reader)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['path']}\n  format: {info['format']} ({info['description']})")
    print(f"  family: {info['family']}")
    print("  config: " + ", ".join(f"{k}={v}" for k, v in info["config"].items()))
    vocab = info["vocabulary"]
    print("  vocabulary: " + ", ".join(f"{k}={v}" for k, v in vocab.items()))
    print(f"  variables: {info['variables']}, parameters: {info['parameters']:,}")
    return 0


def vocabulary_info(reader) -> dict:
    """Size, casing, special tokens and files of the vocabulary that came with a checkpoint."""
    info = {"size": reader.config.vocab_size, "lowercase": reader.lowercase,
            "files": sorted(reader.vocab_files.values())}
    try:
        tok = reader.tokenizer()
    except ValueError as e:  # CheckpointError: no or unusable vocabulary files
        info["problem"] = str(e)
        return info
    special = tok.special_tokens
    info["size"] = tok.vocab_size
    info["special_tokens"] = {k: getattr(special, k) for k in
                              ("start_id", "end_id", "pad_id", "unk_id")}
    return info


def _decode_overrides(args) -> dict:
    return {"beam_size": args.beam, "alpha": args.alpha, "max_length": args.max_length,
            "min_length": args.min_length, "no_repeat_ngram_size": args.no_repeat_ngram_size,
            "early_stopping": args.early_stopping}


def _write_failed(command: str, error: BaseException, kept: str) -> Optional[int]:
    """Exit code 2 after one line for an output that could not be written (disk full,
    permissions: OSError or TensorFlow's I/O errors); None for any other error. A missing
    input or an existing output is left to `main`."""
    import tensorflow as tf

    if isinstance(error, (FileNotFoundError, FileExistsError)) or not isinstance(
            error, (OSError, tf.errors.OpError)):
        return None
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    print(f"bert2bert: {command} failed: {reason}; {kept}", file=sys.stderr)
    return 2


def cmd_export(args) -> int:
    """Exports a run's checkpoint as a SavedModel (strings in, strings out)."""
    from bert2bert.export import export_run

    _logging()
    try:
        if args.best and args.checkpoint is not None:
            from bert2bert.errors import UsageError

            raise UsageError("--best and --checkpoint: give one")
        path = export_run(args.model_dir, args.output, args.checkpoint, args.version,
                          args.static_shapes, args.best, args.xla, **_decode_overrides(args))
    except Exception as e:  # noqa: BLE001 - only write failures are handled here
        code = _write_failed("export", e, f"no new version in {args.output}")
        if code is None:
            raise
        return code
    print(f"exported {path}\n  inspect: saved_model_cli show --all --dir {path}")
    return 0


def cmd_predict(args) -> int:
    """Predicts one output line per input line, from a run or an export."""
    from bert2bert.export import predict_file

    _logging()
    try:
        count = predict_file(args.input, args.output, batch_size=args.batch_size,
                             overwrite=args.overwrite, model_dir=args.model_dir,
                             saved_model=args.saved_model, checkpoint=args.checkpoint,
                             **_decode_overrides(args))
    except Exception as e:  # noqa: BLE001 - write failures and bad options handled here
        from bert2bert.checkpoints.base import CheckpointError

        code = _write_failed("predict", e, f"{args.output} is unchanged")
        if code is not None:
            return code
        if not isinstance(e, ValueError) or isinstance(e, CheckpointError):
            raise  # the CheckpointError subclass is reported by main
        print(f"bert2bert: {e}", file=sys.stderr)  # bad options
        return 2
    print(f"wrote {count} predictions to {args.output}")
    return 0


def cmd_demo(args) -> int:
    """The main job: warm-start, fine-tune, evaluate, export, reload, predict (offline)."""
    from bert2bert.demo import run_demo

    _logging()
    summary = run_demo(args.output, args.steps, args.data, args.eval_data, args.set or [],
                       budget_minutes=args.minutes)
    worse = [k for k in summary["before"] if k not in summary["improved"]]
    if worse:
        print(f"warning: fine-tuning did not improve {worse}", file=sys.stderr)
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line on stderr (exit code 2), like every other user error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bert2bert",
        description="Warm-started Transformer encoder-decoders (Rothe et al., TACL 2020).")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full Python traceback")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p):
        p.add_argument("--config", help="YAML config file")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value, e.g. model.num_layers=4 (repeatable)")
        return p

    p = with_config(sub.add_parser("variants", help="the paper's model grid with parameter counts"))
    p.add_argument("--size", choices=["base", "large"], default="base")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_variants)

    p = with_config(sub.add_parser("config", help="print the resolved config"))
    p.set_defaults(func=cmd_config)

    p = with_config(sub.add_parser(
        "prepare", help="featurize a task's splits into TFRecord shards of token ids"))
    p.add_argument("--output", required=True, help="a new directory for shards and manifest")
    p.add_argument("--splits", default="train", help="comma-separated splits (default train)")
    p.add_argument("--shards", type=int, default=8, help="shards per split (default 8; at "
                                                         "least the number of workers)")
    p.set_defaults(func=cmd_prepare)

    from bert2bert.training.strategy import STRATEGIES

    p = with_config(sub.add_parser("train", help="train or resume a run in --model_dir"))
    p.add_argument("--model_dir", required=True)
    p.add_argument("--strategy", choices=STRATEGIES, default="default")
    p.add_argument("--tpu", help="TPU name or address (with --strategy tpu)")
    p.add_argument("--eval_every", type=int, help="evaluate every N steps (train_and_evaluate)")
    p.add_argument("--overwrite", action="store_true",
                   help="train in a directory holding other files, or replace a run's config")
    p.set_defaults(func=cmd_train)

    p = with_config(sub.add_parser(
        "import", help="a released encoder-decoder (Hugging Face EncoderDecoderModel, "
                       "bertseq2seq TF1 Hub module) as a run directory"))
    p.add_argument("path", help="the model's directory")
    p.add_argument("--output", required=True, help="the new run directory")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --output")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("average", help="average a run's newest N checkpoints into a new run "
                                       "directory (t2t-avg-all)")
    p.add_argument("--model_dir", required=True)
    p.add_argument("--last", type=int, required=True, help="how many of the newest checkpoints")
    p.add_argument("--output", required=True, help="the new run directory")
    p.set_defaults(func=cmd_average)

    p = sub.add_parser("evaluate", help="decode a split and score it")
    p.add_argument("--model_dir", required=True)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--checkpoint", type=int, help="step of the checkpoint (default: newest)")
    group.add_argument("--continuous", action="store_true", help="evaluate each new checkpoint")
    p.add_argument("--split", default="validation")
    p.add_argument("--max_examples", type=int)
    p.add_argument("--timeout", type=float, default=3600,
                   help="with --continuous: stop after this many seconds without a checkpoint")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="decode per-replica batches (tpu: static shapes); same results")
    p.add_argument("--tpu", help="TPU name or address (with --strategy tpu)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("score", help="score hypotheses against references; prints JSON")
    p.add_argument("--metric", required=True,
                   choices=["bleu", "bleu_uncased", "sacrebleu", "rouge", "sari", "exact"])
    p.add_argument("--hyp", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--src", help="sources (required for sari)")
    p.set_defaults(func=cmd_score)

    p = with_config(sub.add_parser(
        "warm-start", help="build a model from its checkpoints; save it with the full report"))
    p.add_argument("--output", required=True, help="directory for model.keras, warm_start.json")
    p.add_argument("--no-strict", action="store_true",
                   help="let a warm side without a checkpoint stay random (still reported)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --output")
    p.set_defaults(func=cmd_warm_start)

    p = sub.add_parser("inspect", help="what a checkpoint is: format, config, vocabulary, sizes")
    p.add_argument("path", help="checkpoint file, prefix or directory")
    p.add_argument("--format", help="skip detection: one of bert2bert.checkpoints.READERS "
                                    "(bert_tf1, tfhub_bert, model_garden_tf2, gpt2_tf1, hf, "
                                    "hf_encoder_decoder, bertseq2seq_hub, keras_hub)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_inspect)

    def with_decode(p):
        p.add_argument("--checkpoint", type=int, help="step of the checkpoint (default: newest)")
        p.add_argument("--beam", type=int, help="beam size (default: the run's decode.beam_size)")
        p.add_argument("--alpha", type=float, help="length penalty ((5+len)/6)^alpha")
        p.add_argument("--max_length", type=int, help="longest output in tokens")
        p.add_argument("--min_length", type=int, help="no end token before this many tokens")
        p.add_argument("--no_repeat_ngram_size", type=int, help="block repeated n-grams")
        p.add_argument("--early_stopping", action="store_true", default=None,
                       help="beam search as transformers' generate(early_stopping=True): a "
                            "source is done once --beam hypotheses have ended")
        return p

    p = with_decode(sub.add_parser("export", help="export a run as a SavedModel for serving"))
    p.add_argument("--model_dir", required=True)
    p.add_argument("--output", required=True, help="base directory; the export goes to "
                                                   "OUTPUT/<version>")
    p.add_argument("--version", type=int, help="version number (default: the next free one)")
    p.add_argument("--static_shapes", action="store_true",
                   help="pad sources to the max source length (fixed shapes, e.g. for TPU)")
    p.add_argument("--best", action="store_true",
                   help="the checkpoint train.keep_best kept (model_dir/best/)")
    p.add_argument("--xla", action="store_true",
                   help="compile the search with XLA (TF Serving: "
                        "--xla_cpu_compilation_enabled=true); best with --static_shapes")
    p.set_defaults(func=cmd_export)

    p = with_decode(sub.add_parser("predict", help="one prediction per input line"))
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model_dir", help="a training run (decodes its newest checkpoint)")
    source.add_argument("--saved_model", help="an exported SavedModel version directory")
    p.add_argument("--input", required=True, help="text file, one source per line")
    p.add_argument("--output", required=True, help="written with one output per input line")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo", help="the main job: warm-start MiniLM, fine-tune, evaluate, "
                                    "export, reload and predict, offline")
    p.add_argument("--output", help="directory for everything (default: runs/demo-<time>)")
    p.add_argument("--steps", type=int, help="fine-tuning steps (default: as many as fit "
                                              "--minutes here, up to the config's train_steps)")
    p.add_argument("--minutes", type=float, default=6.0,
                   help="fine-tuning time budget without --steps (default 6)")
    p.add_argument("--data", help="instead of the built-in fusion pairs: tfds:NAME, a .tsv "
                                  "(source<TAB>target) or a .jsonl ({source, target}) file")
    p.add_argument("--eval_data", help="with a --data file: the evaluation file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override the demo config")
    p.set_defaults(func=cmd_demo)
    for command in sub.choices.values():  # `bert2bert train ... --debug` works too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="on an error, print the full Python traceback")
    return parser


# Errors in what the user gave: one line on stderr, exit code 2.
USER_ERRORS = (Bert2BertError, FileNotFoundError, FileExistsError, PermissionError,
               IsADirectoryError, NotADirectoryError)


def one_line(error: BaseException) -> str:
    """The message of a user error on one line ("checkpoint error: ..." for a checkpoint)."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    checkpoints = sys.modules.get("bert2bert.checkpoints.base")  # loaded if it can be one
    if checkpoints and isinstance(error, checkpoints.CheckpointError):
        text = f"checkpoint error: {text}"
    return " ".join(text.split())


def main(argv=None) -> int:
    """Runs one command. A user error is one line on stderr and exit code 2; any other error
    is an internal error: one line and exit code 1 (the traceback with --debug)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"bert2bert: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bert2bert: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug: say so in one line, no traceback
        if args.debug:
            raise
        print(f"bert2bert: internal error ({type(e).__name__}: {one_line(e)}); run again with "
              f"--debug for the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
