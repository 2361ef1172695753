"""`bert2bert export` and `bert2bert predict` from the command line."""
import contextlib
import io
import os
import shutil

import pytest

from bert2bert.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("predict_cli")]  # one export

LINES = [b"the first line .", b"", "zweite zeile — 你好".encode(), b"bad \xff bytes", b"last"]


def write_input(path):
    path.write_bytes(b"\n".join(LINES) + b"\n")
    return str(path)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


@pytest.fixture(scope="module")
def cli_export(bert_run, bert_export, tmp_path_factory):
    """(export folder, what `bert2bert export` printed): ONE export by the command, into a
    folder that already holds version 1 (the session's export, copied), so it is version 2."""
    folder = tmp_path_factory.mktemp("cli_export")
    shutil.copytree(bert_export, folder / "1")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["export", "--model_dir", bert_run, "--output", str(folder),
                       "--beam", "2", "--max_length", "8"])
    assert status == 0
    return folder, printed.getvalue()


def test_export_then_predict_from_saved_model_and_from_run(bert_run, cli_export, tmp_path):
    folder, printed = cli_export
    export = folder / "2"
    assert (export / "saved_model.pb").exists()
    assert "saved_model_cli show --all" in printed
    source = write_input(tmp_path / "in.txt")
    assert main(["predict", "--saved_model", str(export), "--input", source,
                 "--output", str(tmp_path / "a.txt")]) == 0
    assert main(["predict", "--model_dir", bert_run, "--beam", "2", "--max_length", "8",
                 "--input", source, "--output", str(tmp_path / "b.txt"),
                 "--batch_size", "2"]) == 0
    from_export, from_run = read_lines(tmp_path / "a.txt"), read_lines(tmp_path / "b.txt")
    assert len(from_export) == len(LINES)
    assert from_export == from_run


def test_second_export_gets_the_next_version(cli_export):
    folder, _ = cli_export  # the first export: the session's, copied; then the command's
    assert sorted(os.listdir(folder)) == ["1", "2"]
    assert (folder / "2" / "saved_model.pb").exists()


def test_predict_errors_are_one_line(bert_run, tmp_path, capsys):
    assert main(["predict", "--model_dir", bert_run, "--input", str(tmp_path / "missing.txt"),
                 "--output", str(tmp_path / "o.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
    source = write_input(tmp_path / "in.txt")
    assert main(["predict", "--saved_model", str(tmp_path), "--input", source,
                 "--output", str(tmp_path / "o.txt")]) == 2
    assert "no saved_model.pb" in capsys.readouterr().err
    assert main(["predict", "--model_dir", bert_run, "--beam", "0", "--input", source,
                 "--output", str(tmp_path / "o.txt")]) == 2
    assert "beam_size" in capsys.readouterr().err
    assert main(["export", "--model_dir", str(tmp_path), "--output", str(tmp_path / "e")]) == 2
    assert "config.yaml" in capsys.readouterr().err
