"""`benchmarks/bench_w1.py --compare --rounds N`: the ratios it reports are the medians of N
alternating pairs of runs (the issue-15 targets are read from them). No timing here: the runs
are canned JSON lines."""
import importlib.util
import os
import sys
import types

import pytest

from tests.helpers import REPO


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_w1", os.path.join(REPO, "benchmarks", "bench_w1.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer(train, beam, rss):
    return {"train_examples_per_s": train, "beam_sentences_per_s": beam, "peak_rss_MiB": rss}


def ours(train, beam, serving, rss, working_set):
    return {"train_examples_per_s": train, "beam_sentences_per_s": beam,
            "savedmodel_serving_sentences_per_s": serving, "peak_rss_MiB": rss,
            "working_set_MiB": working_set}


def test_rounds_alternate_the_peer_and_ours_and_report_medians(bench, monkeypatch, capsys):
    runs = iter([{"import_floor_MiB": 300.0},
                 peer(10.0, 5.0, 1300.0), ours(11.0, 10.0, 12.0, 1700.0, 1000.0),
                 peer(20.0, 5.0, 1300.0), ours(11.0, 20.0, 8.0, 1700.0, 950.0),   # a fast peer
                 peer(10.0, 4.0, 1300.0), ours(16.0, 12.0, 10.0, 1700.0, 990.0)])
    calls = []

    def last_json(cmd):
        calls.append("peer" if cmd[0] == "/peer/python" else "ours")
        return next(runs)

    monkeypatch.setattr(bench, "last_json", last_json)
    monkeypatch.setattr(bench, "compare_precisions", lambda choice: (False,))
    args = types.SimpleNamespace(
        anchor_python="/peer/python", anchor_train_steps=30, precisions="fp32", rounds=3,
        beam="auto", train_xla=False, serving="auto", min_seconds=30.0)
    result = bench.compare(args)
    assert calls == ["peer"] + ["peer", "ours"] * 3  # the floor, then pairs, alternating
    rounds = result["ratios_by_round"]["fp32"]
    assert [r["train"] for r in rounds] == [1.1, 0.55, 1.6]
    assert [r["beam"] for r in rounds] == [2.0, 4.0, 3.0]
    assert [r["working_set"] for r in rounds] == [1.0, 0.95, 0.99]
    # the middle round of each ratio, not the mean (1.08) nor the last pair
    assert result["ratios_ours_over_anchor"]["fp32"] == {
        "train": 1.1, "beam": 3.0, "savedmodel_serving_vs_anchor_beam": 2.4,
        "peak_rss": 1.31, "working_set": 0.99}
    assert result["rounds"] == 3
    assert '"ratios_ours_over_anchor"' in capsys.readouterr().out


def test_anchor_train_steps_reach_the_anchor_only(bench, monkeypatch):
    commands = []

    def last_json(cmd):
        commands.append(cmd)
        if len(commands) == 1:
            return {"import_floor_MiB": 300.0}
        return (peer(10.0, 5.0, 1300.0) if cmd[0] == "/peer/python"
                else ours(11.0, 10.0, 12.0, 1700.0, 1000.0))

    monkeypatch.setattr(bench, "last_json", last_json)
    monkeypatch.setattr(bench, "compare_precisions", lambda choice: (False,))
    args = types.SimpleNamespace(
        anchor_python="/peer/python", anchor_train_steps=30, precisions="fp32", rounds=1,
        beam="xla", train_xla=False, serving="plain", min_seconds=5.0)
    bench.compare(args)
    anchor, mine = commands[1], commands[2]
    assert anchor[-2:] == ["--train-steps", "30"]
    assert "--train-steps" not in mine and mine[-2:] == ["--min-seconds", "5.0"]


@pytest.mark.parametrize("argv, message", [
    (["--compare", "--rounds", "0"], "--rounds must be at least 1, got 0"),
    (["--compare", "--anchor-python", "/no/such/python"], "no peer venv at /no/such/python"),
])
def test_bad_arguments_are_one_line_before_any_run(bench, monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["bench_w1.py", *argv])
    monkeypatch.setattr(bench, "compare", lambda args: pytest.fail("ran with bad arguments"))
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]
