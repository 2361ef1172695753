"""The `bert2bert` console script."""
import json
import os
import subprocess
import sys

import pytest

from bert2bert import grid
from bert2bert.cli import main
from tests.helpers import REPO

PAPER_TOTALS_M = {"rnd2rnd": 221, "bert2rnd": 221, "rnd2bert": 221, "bert2bert": 221,
                  "bertShare": 136, "robertaShare": 152, "gpt": 125, "rnd2gpt": 238,
                  "bert2gpt": 260, "roberta2gpt": 276}


def console_script():
    exe = os.path.join(os.path.dirname(sys.executable), "bert2bert")
    assert os.path.exists(exe), f"console script not installed next to {sys.executable}"
    return exe


@pytest.mark.slow
def test_variants_json_matches_paper_table_1_at_base_size():
    out = subprocess.run([console_script(), "variants", "--json"], capture_output=True,
                         text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr
    rows = {r["variant"]: r for r in json.loads(out.stdout)}
    assert list(rows) == list(grid.VARIANT_NAMES)
    for name, paper in PAPER_TOTALS_M.items():
        row = rows[name]
        assert abs(row["total"] / (paper * 1e6) - 1) <= 0.02, (name, row["total"])
        assert row["from_checkpoint"] + row["random"] == row["total"]
    # Sharing shows: bertShare is bert2bert without the decoder's own stack.
    assert rows["bertShare"]["total"] < 0.65 * rows["bert2bert"]["total"]
    assert rows["bertShare"]["random"] == rows["bert2bert"]["random"]  # cross-attention only
    assert rows["rnd2rnd"]["from_checkpoint"] == 0 and rows["gpt"]["random"] == 0
    # Embedding column of the paper: 23M BERT, 39M GPT-2/RoBERTa, 62M and 78M for two vocabularies.
    for name, emb in {"bert2bert": 23, "gpt": 39, "bert2gpt": 62, "roberta2gpt": 78}.items():
        assert abs(rows[name]["embedding"] / 1e6 - emb) < 2.0, (name, rows[name]["embedding"])


@pytest.mark.slow
def test_variants_table_for_a_custom_size(capsys):
    assert main(["variants", "--set", "model.num_layers=1", "--set", "model.hidden_size=16",
                 "--set", "model.num_heads=2", "--set", "model.intermediate_size=32"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split()[:5] == ["variant", "total", "embedding", "from", "ckpt"]
    assert [ln.split()[0] for ln in lines[1:]] == list(grid.VARIANT_NAMES)


@pytest.mark.slow
def test_variants_json_for_custom_size(capsys):
    assert main(["variants", "--json", "--set", "model.num_layers=1", "--set",
                 "model.hidden_size=16", "--set", "model.num_heads=2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all("paper_total" not in r for r in rows)
    share = {r["variant"]: r for r in rows}
    assert share["bertShare"]["variables"] < share["bert2bert"]["variables"]


def test_help_lists_the_commands():
    out = subprocess.run([console_script(), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("variants", "config", "demo"):
        assert command in out.stdout
