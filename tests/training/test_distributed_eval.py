"""`evaluate(..., strategy=...)`: under MirroredStrategy on 2 logical CPUs each replica decodes
its share of every batch, and the eval loss, perplexity and decoded strings are the single
device's (with dynamic shapes, the reference) on a split that is not a multiple of the global
batch: 7 examples in batches of 4 with static shapes, the last one padded to 4 rows (2 per
replica) and its padded row dropped."""
import json
import os

import pytest
import tensorflow as tf

from bert2bert.cli import build_parser

pytestmark = pytest.mark.slow  # a tiny run decoded twice, the second time on 2 logical CPUs

SETTINGS = ["train.eval_batch_size=4", "train.max_eval_examples=7", "task.max_source_length=24",
            "task.max_target_length=10", "decode.max_length=10", "decode.no_repeat_ngram_size=2",
            "model.initializer_range=0.3"]  # large random cross-attention: source-dependent


def test_mirrored_evaluation_equals_one_device(tiny_smoke, tmp_path):
    from bert2bert.config import load_config
    from bert2bert.evaluation import evaluate
    from bert2bert.training.loop import train

    model_dir = str(tmp_path / "run")
    train(load_config(tiny_smoke, SETTINGS), model_dir, progress=False, stop_after=0,
          save_initial=True)  # ckpt-0: the warm-started model
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])  # conftest.py's 2 CPUs
    out = {}
    for name, strategy, static in [("default", "default", False), ("mirrored", mirrored, True)]:
        results = evaluate(model_dir, progress=False, strategy=strategy, static_shapes=static)
        eval_dir = os.path.join(model_dir, "eval")
        with open(os.path.join(eval_dir, "results-0.json")) as f:
            written = json.load(f)
        with open(os.path.join(eval_dir, "predictions-0.txt")) as f:
            out[name] = dict(results=results, written=written, predictions=f.read().splitlines(),
                             replicas=getattr(strategy, "num_replicas_in_sync", 1))
    one = out["default"]
    assert one["replicas"] == 1 and out["mirrored"]["replicas"] == 2
    assert one["results"]["examples"] == len(one["predictions"]) == 7
    assert one["results"] == one["written"]  # results-0.json
    assert {"loss", "perplexity", "sari", "exact", "bleu"} <= set(one["results"])
    assert one["results"]["perplexity"] == pytest.approx(2.718281828 ** one["results"]["loss"])
    assert len(set(one["predictions"])) > 3  # the decodings depend on the source
    got = out["mirrored"]
    assert got["predictions"] == one["predictions"]  # gathered in the split's order
    assert got["results"]["examples"] == 7 and got["results"] == got["written"]
    for key in ("loss", "perplexity"):  # SUM of token losses / SUM of tokens
        assert got["results"][key] == pytest.approx(one["results"][key], rel=1e-6, abs=1e-5)
    for key in ("sari", "exact", "bleu"):
        assert got["results"][key] == one["results"][key], key


def test_evaluate_command_takes_a_strategy():
    args = build_parser().parse_args(["evaluate", "--model_dir", "run", "--continuous",
                                      "--strategy", "mirrored"])
    assert args.strategy == "mirrored" and args.continuous
    assert build_parser().parse_args(["evaluate", "--model_dir", "run"]).strategy == "default"
