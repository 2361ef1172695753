"""`bert2bert demo` end to end, cut down to seconds: every stage runs and reports."""
import json
import os

import pytest

from bert2bert.cli import main
from bert2bert.demo import data_overrides


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--steps", "3",
                 "--set", "model.num_layers=1", "--set", "train.max_eval_examples=4",
                 "--set", "train.eval_batch_size=4", "--set", "decode.max_length=8",
                 "--set", "train.checkpoint_every=3"]) == 0
    printed = capsys.readouterr().out
    for stage in range(1, 7):
        assert f"[{stage}/6]" in printed
    assert "warm start of bert2bert" in printed and "before" in printed and "after" in printed
    summary = json.loads((out / "demo.json").read_text())
    assert summary["steps"] == 3
    assert len(summary["predictions"]) == 5
    assert set(summary["before"]) == {"sari", "bleu", "exact"}
    assert os.path.isfile(os.path.join(summary["export"], "saved_model.pb"))
    assert os.path.isfile(os.path.join(summary["model_dir"], "eval", "results-0.json"))
    assert os.path.isfile(os.path.join(summary["model_dir"], "eval", "results-3.json"))
    for p in summary["predictions"]:
        assert f"prediction: {p['prediction']}" in printed
    # a second demo into the same place is refused, nothing is overwritten
    assert main(["demo", "--output", str(out)]) == 2


def test_demo_data_options(tmp_path):
    assert data_overrides(None, None) == []
    assert "task.tfds_name=wikisplit" in data_overrides("tfds:wikisplit", None)
    train = tmp_path / "train.tsv"
    train.write_text("a b\tb a\n")
    sets = data_overrides(str(train), None)
    assert "task.file_format=tsv" in sets and str(train) in sets[-1]
    with pytest.raises(ValueError, match="tsv or .jsonl"):
        data_overrides(str(tmp_path / "train.csv"), None)
    with pytest.raises(FileNotFoundError, match="dev.tsv"):
        data_overrides(str(train), str(tmp_path / "dev.tsv"))
