"""`Evaluator`: checkpoint after checkpoint of one run, one model and one trace; each result
equal to a fresh `evaluate` of that checkpoint."""
import os

import pytest

from bert2bert.config import load_config
from bert2bert.evaluation import Evaluator, evaluate

pytestmark = pytest.mark.slow  # a tiny training run and three evaluations

SETTINGS = ["train.train_steps=4", "train.checkpoint_every=2", "train.batch_size=4",
            "train.eval_batch_size=4", "train.max_eval_examples=6", "task.max_source_length=24",
            "task.max_target_length=10", "decode.max_length=8", "model.initializer_range=0.3"]


def test_later_checkpoints_are_restored_into_one_model_and_match_fresh_evaluations(
        tiny_smoke, tmp_path):
    from bert2bert.training.loop import train

    run = str(tmp_path / "run")
    train(load_config(tiny_smoke, SETTINGS), run, progress=False)
    evaluator = Evaluator(run, max_examples=6)
    first = evaluator(2)
    model = evaluator._trained.model
    # a resumed run may change its length: the model is kept all the same
    config_file = os.path.join(run, "config.yaml")
    text = open(config_file).read()
    assert "train_steps: 4" in text
    with open(config_file, "w") as f:
        f.write(text.replace("train_steps: 4", "train_steps: 8"))
    second = evaluator(4)
    assert evaluator._trained.model is model and evaluator._trained.step == 4
    (step,) = evaluator._steps.values()
    assert step.traces == {"step": 1, "loss": 1, "decode": 1}  # one trace for both
    assert first["loss"] != second["loss"]  # the second checkpoint's weights were restored
    for results, checkpoint in ((first, 2), (second, 4)):
        fresh = evaluate(run, checkpoint, max_examples=6, progress=False)
        assert fresh["step"] == results["step"] == checkpoint
        assert fresh["loss"] == pytest.approx(results["loss"], rel=1e-6)
        assert {k: fresh[k] for k in ("exact", "sari", "bleu") if k in fresh} == \
            {k: results[k] for k in ("exact", "sari", "bleu") if k in results}
    # a changed model setting builds a new model
    with open(config_file, "w") as f:
        f.write(text.replace("train_steps: 4", "train_steps: 8").replace(
            "max_length: 8", "max_length: 6"))
    evaluator(4)
    assert evaluator._trained.model is not model


def test_train_eval_every_through_the_cli_reuses_one_model_with_each_checkpoints_weights(
        tiny_smoke, tmp_path, capsys):
    """`bert2bert train --eval_every 2`: the run's evaluations share one Evaluator (cli.py);
    each one's results equal a fresh evaluation of its checkpoint."""
    import json

    from bert2bert.cli import main

    run = str(tmp_path / "run")
    sets = sum((["--set", s] for s in SETTINGS + ["train.max_eval_examples=6"]), [])
    assert main(["train", "--config", tiny_smoke, "--model_dir", run, "--eval_every", "2",
                 *sets]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{")]
    assert [r["step"] for r in printed] == [2, 4]
    assert printed[0]["loss"] != printed[1]["loss"]
    for results in printed:
        fresh = evaluate(run, results["step"], max_examples=6, progress=False)
        assert fresh["loss"] == pytest.approx(results["loss"], rel=1e-6)
        assert fresh["sari"] == results["sari"] and fresh["bleu"] == results["bleu"]
