"""Bad inputs to the `bert2bert` console script, one table: each exits with code 2, says so in
exactly one line on stderr (no traceback), naming the file, key or line, within 5 s (before
any model is built, and before TensorFlow is imported where the command allows it).

The cases run as subprocesses in parallel threads (each Python start-up costs a little); the
wall time of each is measured on its own.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import pytest

from bert2bert.cli import main

BIN = os.path.join(os.path.dirname(sys.executable), "bert2bert")
LIMIT_SECONDS = 5.0

# (id, arguments, text the one line must contain). "{t}" is the folder of the input files.
CASES = [
    # config values, reported by `bert2bert config` as well as by every command
    ("unknown key", "config --set model.num_layer=4", "unknown key 'model.num_layer'"),
    ("wrong type", "config --set train.batch_size=abc", "'train.batch_size' must be int"),
    ("bad choice", "config --set model.variant=bert3bert", "valid choices: rnd2rnd"),
    ("negative dropout", "config --set model.dropout=-0.1",
     "'model.dropout' is -0.1; valid range: [0, 1)"),
    ("label smoothing 1", "config --set train.label_smoothing=1", "'train.label_smoothing'"),
    ("beam 0", "config --set decode.beam_size=0", "'decode.beam_size' is 0; valid range: >= 1"),
    ("source above position table", "config --set task.max_source_length=600",
     "'task.max_source_length' is 600; valid range: <= 512"),
    ("min above max length", "config --set decode.max_length=5 --set decode.min_length=9",
     "'decode.min_length' is 9"),
    ("bad --set syntax", "config --set model.num_layers", "must look like section.key=value"),
    ("missing config file", "config --config {t}/nope.yaml", "file not found: {t}/nope.yaml"),
    ("config not YAML", "config --config {t}/bad.yaml", "not valid YAML"),
    # train: config, data and checkpoints checked first
    ("negative batch_size", "train --model_dir {t}/run --set train.batch_size=-4",
     "'train.batch_size' is -4; valid range: >= 1"),
    ("checkpoint_every 0", "train --model_dir {t}/run --set train.checkpoint_every=0",
     "'train.checkpoint_every' is 0"),
    ("negative train_steps", "train --model_dir {t}/run --set train.train_steps=-5",
     "'train.train_steps' is -5"),
    ("learning rate 0", "train --model_dir {t}/run --set optimizer.learning_rate=0",
     "'optimizer.learning_rate' is 0.0; valid range: > 0"),
    ("eval_every 0", "train --model_dir {t}/run --eval_every 0", "'train.eval_every' is 0"),
    ("tfds without a name", "train --model_dir {t}/run", "needs task.tfds_name"),
    ("model_dir is a file", "train --config {t}/tsv.yaml --model_dir {t}/afile",
     "is not a directory"),
    ("missing data file", "train --config {t}/tsv.yaml --model_dir {t}/run "
     "--set task.data_files.train={t}/nope.tsv", "not found: {t}/nope.tsv"),
    ("data file is a directory", "train --config {t}/tsv.yaml --model_dir {t}/run "
     "--set task.data_files.train={t}/adir", "is a directory: {t}/adir"),
    ("TSV without the named column", "train --config {t}/tsv.yaml --model_dir {t}/run "
     "--set task.source_key=complex", "{t}/good.tsv:1: column 'complex' (source_key)"),
    ("JSONL with a missing key", "train --config {t}/jsonl.yaml --model_dir {t}/run",
     "{t}/nokey.jsonl:2: field 'target' (target_key) is missing"),
    ("eval data checked too", "train --config {t}/tsv.yaml --model_dir {t}/run --eval_every 5",
     "no data file for split 'validation'"),
    ("missing checkpoint", "train --config {t}/tsv.yaml --model_dir {t}/run "
     "--set model.encoder_checkpoint={t}/nockpt", "model.encoder_checkpoint"),
    ("malformed tokenizer_config.json", "train --config {t}/tsv.yaml --model_dir {t}/run "
     "--set model.encoder_checkpoint={t}/hf", "{t}/hf/tokenizer_config.json:1: not valid JSON"),
    # demo: options, data and output checked before the warm start
    ("demo --output at a file", "demo --output {t}/afile", "--output {t}/afile"),
    ("empty TSV", "demo --data {t}/empty.tsv", "{t}/empty.tsv: no examples"),
    ("TSV with one column", "demo --data {t}/onecol.tsv",
     "{t}/onecol.tsv:1: column 1 (target_key) does not exist"),
    ("non-UTF-8 TSV", "demo --data {t}/latin1.tsv", "{t}/latin1.tsv:2: not valid UTF-8"),
    ("malformed JSONL", "demo --data {t}/broken.jsonl", "{t}/broken.jsonl:1: not valid JSON"),
    ("unknown data extension", "demo --data {t}/data.csv", "expected a .tsv or .jsonl"),
    ("missing eval data", "demo --data {t}/good.tsv --eval_data {t}/nope.tsv", "{t}/nope.tsv"),
    ("demo steps 0", "demo --steps 0 --output {t}/d0", "'train.train_steps' is 0"),
    # score
    ("score line counts differ", "score --metric bleu --hyp {t}/three.txt --ref {t}/two.txt",
     "different numbers of lines"),
    ("score missing file", "score --metric bleu --hyp {t}/nope.txt --ref {t}/two.txt",
     "{t}/nope.txt: No such file or directory"),
    ("score non-UTF-8 file", "score --metric exact --hyp {t}/latin1.tsv --ref {t}/two.txt",
     "{t}/latin1.tsv:2: not valid UTF-8"),
    ("sari without sources", "score --metric sari --hyp {t}/two.txt --ref {t}/two.txt",
     "--src is required for sari"),
    # usage
    ("missing required option", "train --config {t}/tsv.yaml", "required: --model_dir"),
    # evaluate and inspect
    ("evaluate a non-run directory", "evaluate --model_dir {t}/adir", "{t}/adir"),
    ("evaluate --split nosuchsplit", "evaluate --model_dir {t}/fakerun --split nosuchsplit",
     "nosuchsplit"),
    ("inspect a missing path", "inspect {t}/nope", "{t}/nope"),
]


# Fast only once `cmd_evaluate` calls `bert2bert.data.preflight.preflight_run` before it imports
# TensorFlow, and `cmd_inspect` checks the path first (today: one line and exit code 2, after
# TensorFlow's start-up, and a split not checked before the model is restored).
PARAMS = [pytest.param(*case, id=case[0]) for case in CASES]


def write_inputs(t: str) -> None:
    """The bad (and a few good) input files of the table."""
    def put(name, data):
        path = os.path.join(t, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)

    put("afile", "not a directory\n")
    os.makedirs(os.path.join(t, "adir"))
    put("bad.yaml", "model: [unclosed\n")
    put("empty.tsv", "")
    put("onecol.tsv", "just one column\n")
    put("latin1.tsv", b"ok\tfine\nGr\xfc\xdfe\tx\n")
    put("good.tsv", "source\ttarget\nA and B .\tA . B .\n")
    put("nokey.jsonl", '{"source": "a", "target": "b"}\n{"source": "c"}\n')
    put("broken.jsonl", '{"source": "a", "target": \n')
    put("data.csv", "a,b\n")
    put("three.txt", "a\nb\nc\n")
    put("two.txt", "a\nb\n")
    put("hf/config.json", json.dumps({"model_type": "bert"}))
    put("hf/tokenizer_config.json", '{"do_lower_case": tru')
    task = {"name": "mine", "file_format": "tsv", "data_files": {"train": f"{t}/good.tsv"},
            "source_key": "source", "target_key": "target"}
    model = {"variant": "rnd2rnd", "num_layers": 1, "hidden_size": 8, "num_heads": 2,
             "intermediate_size": 8, "max_position_embeddings": 32}
    small = {"max_source_length": 16, "max_target_length": 16}
    put("tsv.yaml", json.dumps({"model": model, "task": {**task, **small}}))
    put("jsonl.yaml", json.dumps({"model": model, "task": {
        **task, **small, "file_format": "jsonl", "data_files": {"train": f"{t}/nokey.jsonl"}}}))
    put("fakerun/config.yaml", json.dumps({"model": model, "task": {
        **task, **small, "data_files": {"validation": f"{t}/good.tsv"}}}))


def run_case(args: str, t: str):
    argv = [BIN] + [a.format(t=t) for a in args.split()]
    tic = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=t, timeout=120)
    return proc, time.monotonic() - tic


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    t = str(tmp_path_factory.mktemp("bad_inputs"))
    write_inputs(t)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_case, args, t) for name, args, _ in CASES}
        return t, {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name, args, expected", PARAMS)
def test_bad_input_is_one_line_and_exit_code_2(results, name, args, expected):
    t, done = results
    proc, seconds = done[name]
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert expected.format(t=t) in lines[0]
    assert lines[0].startswith("bert2bert")
    assert seconds < LIMIT_SECONDS, f"{seconds:.1f} s: not before the slow part"
    assert not os.path.exists(os.path.join(t, "run")), "a run directory was left half-made"


def test_internal_error_is_one_line_pointing_to_debug(monkeypatch, capsys):
    import bert2bert.cli as cli

    def broken(args):
        raise KeyError("oops")

    monkeypatch.setattr(cli, "cmd_config", broken)
    assert main(["config"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error" in err[0] and "--debug" in err[0]
    with pytest.raises(KeyError):
        main(["--debug", "config"])
    with pytest.raises(KeyError):
        main(["config", "--debug"])


def test_debug_shows_the_traceback_of_a_user_error():
    from bert2bert.config import ConfigError

    with pytest.raises(ConfigError, match="'decode.beam_size' is 0"):
        main(["config", "--set", "decode.beam_size=0", "--debug"])
