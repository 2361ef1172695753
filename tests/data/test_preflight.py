"""The preflight: cheap checks of a config's files before any model is built."""
import json
import os
import subprocess
import sys

import pytest

from bert2bert.config import ConfigError, load_config
from bert2bert.data import DataError, DataFormatError
from bert2bert.data.files import check_tsv
from bert2bert.data.preflight import preflight, preflight_run
from bert2bert.errors import Bert2BertError, FileFormatError


def tsv_config(tmp_path, **files):
    data = {split: str(tmp_path / name) for split, name in files.items()}
    return load_config(None, ["task.file_format=tsv", f"task.data_files={json.dumps(data)}"])


def test_runs_without_tensorflow():
    code = ("import sys; import bert2bert.data.preflight, bert2bert.cli; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'tensorflow_datasets') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_split_asked_for_is_checked(tmp_path):
    (tmp_path / "train.tsv").write_text("source\ttarget\na\tb\n")
    cfg = tsv_config(tmp_path, train="train.tsv", validation="dev.tsv")
    preflight(cfg, ["train"])
    with pytest.raises(FileNotFoundError, match=r"split 'validation' not found: .*dev\.tsv"):
        preflight(cfg, ["train", "validation"])
    with pytest.raises(DataError, match="no data file for split 'test'"):
        preflight(cfg, ["test"])


def test_tsv_is_checked_once_while_unchanged(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("s\tt\na\tb\n")
    first = check_tsv(str(path), "s", "t")
    assert check_tsv(str(path), "s", "t") is first
    path.write_text("s\tt\na\tb\nc\td\n")
    assert check_tsv(str(path), "s", "t").rows == 2


def test_builtin_and_tfds_get_cheap_checks():
    preflight(load_config(None, ["task.file_format=builtin"]), ["train", "validation", "dev"])
    with pytest.raises(DataError, match="unknown built-in data split 'tune'"):
        preflight(load_config(None, ["task.file_format=builtin"]), ["tune"])
    with pytest.raises(ConfigError, match="needs task.tfds_name"):
        preflight(load_config(None, []))
    preflight(load_config(None, ["task.tfds_name=wikisplit"]), ["anything"])


def test_checkpoint_paths_and_their_json(tmp_path):
    ckpt = tmp_path / "hf"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    cfg = load_config(None, ["task.file_format=builtin", f"model.encoder_checkpoint={ckpt}"])
    preflight(cfg)
    (ckpt / "tokenizer_config.json").write_text('{\n  "do_lower_case": tru\n}')
    with pytest.raises(FileFormatError, match=r"tokenizer_config\.json:2: not valid JSON"):
        preflight(cfg)
    cfg = load_config(None, ["task.file_format=builtin",
                             f"model.decoder_checkpoint={tmp_path / 'model.ckpt'}"])
    with pytest.raises(FileNotFoundError, match="model.decoder_checkpoint: no such file"):
        preflight(cfg)
    (tmp_path / "model.ckpt.index").write_bytes(b"")  # a TF checkpoint prefix
    preflight(cfg)
    preflight(load_config(None, ["task.file_format=builtin",
                                 "model.encoder_checkpoint=package:not_installed/model"]))


def test_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="is .* a bert2bert model_dir"):
        preflight_run(str(tmp_path))
    (tmp_path / "dev.tsv").write_text("source\ttarget\na\tb\n")
    cfg = tsv_config(tmp_path, validation="dev.tsv")
    (tmp_path / "config.yaml").write_text(cfg.to_yaml())
    assert preflight_run(str(tmp_path)).task == cfg.task
    with pytest.raises(DataError, match="no data file for split 'nosuchsplit'"):
        preflight_run(str(tmp_path), ["nosuchsplit"])


def test_every_error_shares_the_base_class():
    from bert2bert.checkpoints import CheckpointError
    from bert2bert.data import DataUnavailableError

    for error in (ConfigError, CheckpointError, DataError, DataFormatError, DataUnavailableError,
                  FileFormatError):
        assert issubclass(error, Bert2BertError), error
    assert issubclass(DataFormatError, ValueError) and issubclass(ConfigError, ValueError)


def test_gzip_that_is_not(tmp_path):
    path = tmp_path / "d.tsv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataFormatError, match=r"d\.tsv\.gz: not a readable gzip file"):
        check_tsv(os.fspath(path), "0", "1")
