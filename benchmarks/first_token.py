"""What the demo's first output position learns, and what makes it copy (issue: exact match 0).

Fine-tunes the demo's model (configs/experiments/demo.yaml) for --steps updates, then reports,
on the 69 validation pairs, the teacher-forced loss at target positions 0-5, how often greedy
search gets the first token right, greedy exact match, and the first words of 8 outputs.

    .venv/bin/python benchmarks/first_token.py OUT [--steps 150]             # as shipped
    .venv/bin/python benchmarks/first_token.py OUT --start 103 --source_prefix --shift \\
        --set model.max_position_embeddings=128                              # aligned [MASK]

The variants are tried by patching two places at run time (not yet options of the package):
`--start ID` starts the decoder with token ID instead of [CLS] (103 is [MASK] in BERT
vocabularies); `--source_prefix` also puts ID right after the source's [CLS]; `--shift`
numbers the decoder positions from 1, so that decoder position p holds the token the source
holds at p. Not a test: minutes per run on 2 cores.
"""
import argparse
import json
import os
import time


def patch(args):
    """Applies the variant's two patches; returns the decoder's start id (None: [CLS])."""
    from keras import ops

    from bert2bert.data import features
    from bert2bert.models import stacks

    if args.shift:
        call = stacks.TransformerStack.call

        def shifted(self, token_ids, self_mask=None, position_ids=None, **kwargs):
            if self.cross_attention:  # the decoder stack
                if position_ids is None:
                    position_ids = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
                position_ids = position_ids + 1
            return call(self, token_ids, self_mask=self_mask, position_ids=position_ids, **kwargs)

        stacks.TransformerStack.call = shifted
    if args.start is not None:
        init = features.PairEncoder.__init__

        def started(self, *a, **kw):
            init(self, *a, **kw)
            if args.source_prefix:
                self.before, self.keep_source = self.before + (args.start,), self.keep_source - 1
            self.start_id = args.start

        features.PairEncoder.__init__ = started
    return args.start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("output")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--start", type=int, help="decoder start token id (default: [CLS])")
    p.add_argument("--source_prefix", action="store_true",
                   help="put the start token after the source's [CLS] too")
    p.add_argument("--shift", action="store_true", help="decoder positions start at 1")
    p.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    args = p.parse_args()
    if os.path.exists(args.output) and os.listdir(args.output):
        raise SystemExit(f"{args.output} is not empty: give a new output directory")

    from bert2bert.config import load_config
    from bert2bert.demo import CONFIG

    config = load_config(CONFIG, [f"train.train_steps={args.steps}",
                                  f"train.checkpoint_every={args.steps}"] + args.set)
    import numpy as np
    import tensorflow as tf

    from bert2bert.data import make_dataset
    from bert2bert.decoding import greedy_decode, never_generated
    from bert2bert.models.loss import token_cross_entropy
    from bert2bert.training import run_dir
    from bert2bert.training.loop import train

    start = patch(args)
    model_dir = os.path.join(args.output, "model")
    tic = time.time()
    result = train(config, model_dir)
    seconds = time.time() - tic
    trained = run_dir.restore_model(model_dir, None)
    model, target_tok = trained.model, trained.target_tokenizer
    special = target_tok.special_tokens
    start = special.start_id if start is None else start
    data = make_dataset(config.task, "validation", trained.source_tokenizer, target_tok, 32,
                        decoder_only=False, training=False)
    position_loss = [[] for _ in range(6)]
    first_right = exact = count = 0
    firsts = []
    for inputs, labels in data:
        nll = token_cross_entropy(labels, model(inputs, training=False)).numpy()
        for i, losses in enumerate(position_loss):
            losses += list(nll[:, i])
        ids, lengths = greedy_decode(model, inputs["encoder_token_ids"],
                                     inputs["encoder_padding_mask"], 64, start, special.end_id,
                                     pad_id=special.pad_id, forbidden_ids=never_generated(special))
        for row, length, label in zip(ids.numpy(), lengths.numpy(), labels.numpy()):
            reference = [t for t in label if t != special.pad_id]
            hypothesis = list(row[:length + 1])
            first_right += hypothesis[0] == reference[0]
            exact += hypothesis == reference
            count += 1
            if len(firsts) < 8:
                firsts.append(target_tok.detokenize(tf.constant([hypothesis[:8]])).numpy()[0]
                              .decode("utf-8"))
    out = {"steps": args.steps, "start": args.start, "source_prefix": args.source_prefix,
           "shift": args.shift, "set": args.set, "train_seconds": round(seconds, 1),
           "last_loss": round(result.last_loss, 4),
           "position_loss": [round(float(np.mean(x)), 3) for x in position_loss],
           "first_token_right": round(first_right / count, 4),
           "greedy_exact": round(exact / count, 4), "pairs": count, "first_words": firsts}
    print(json.dumps(out, indent=1))
    with open(os.path.join(args.output, "first_token.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
