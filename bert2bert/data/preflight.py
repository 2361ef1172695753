"""Cheap checks of every file a config names, run before any model is built.

`preflight(config, splits)` (train, demo) checks the task's data for those splits (local TSV
and JSON Lines files: exist, UTF-8, the named columns or fields, not empty; built-in data: the
split exists; TFDS: a dataset name) and the model's checkpoint paths (exist; the JSON files of
a checkpoint directory parse). `preflight_run(model_dir, splits)` (evaluate) checks a run's
saved config and the data of those splits. Plain Python: no TensorFlow, no TFDS, so a bad
input fails in well under a second with one line naming the file, key or line.
"""
import json
from typing import Iterable

from bert2bert import textfiles

from bert2bert.config import (Config, ConfigError, ModelConfig, TaskConfig, config_from_dict,
                              read_yaml)
from bert2bert.data.files import check_tsv, data_file, key_fields, read_jsonl
from bert2bert.errors import FileFormatError

RUN_CONFIG = "config.yaml"  # as bert2bert.training.run_dir writes it
CHECKPOINT_KEYS = ("encoder_checkpoint", "decoder_checkpoint", "vocab_checkpoint")


def check_task(task: TaskConfig, splits: Iterable[str]) -> None:
    """Checks the data of `splits`; raises naming the file and line, or the key."""
    fmt = task.file_format
    for split in splits:
        if fmt == "tsv":
            check_tsv(data_file(task, split), task.source_key, task.target_key)
        elif fmt == "jsonl":
            read_jsonl(data_file(task, split), task.source_key, task.target_key)
        elif fmt == "builtin":
            from bert2bert.data.builtin import builtin_split
            builtin_split(split)
        elif fmt == "prepared":  # ids of the prepared splits; the text of the others
            from bert2bert.data.manifest import read_manifest, text_task
            if split not in read_manifest(task.data_dir).splits:
                check_task(text_task(task), [split])
        elif fmt == "tfds":
            if not task.tfds_name:
                raise ConfigError(f"config error: task {task.name!r}: file_format 'tfds' needs "
                                  f"task.tfds_name")
            key_fields(task.source_key, "source_key")
            key_fields(task.target_key, "target_key")
        else:
            raise ConfigError(f"config error: task {task.name!r}: unknown file_format {fmt!r}; "
                              f"expected tfds, tsv, jsonl, builtin or prepared")


def check_checkpoints(model: ModelConfig) -> None:
    """Checks that the model's checkpoint paths exist and their directories' JSON files parse
    (`package:` paths name installed packages and are left to the readers)."""
    for key in CHECKPOINT_KEYS:
        path = getattr(model, key)
        if not path or path.startswith("package:"):
            continue
        path = textfiles.expanduser(path)
        if not textfiles.exists(path) and not textfiles.exists(path + ".index"):
            raise FileNotFoundError(f"model.{key}: no such file or directory: {path}")
        if textfiles.isdir(path):
            for name in sorted(textfiles.listdir(path)):
                if name.endswith(".json"):
                    check_json(textfiles.join(path, name))


def check_json(path: str) -> None:
    """Raises `FileFormatError` naming the file, line and column unless `path` is valid JSON."""
    try:
        with textfiles.open_file(path, "rb") as f:
            json.loads(f.read().decode("utf-8"))
    except json.JSONDecodeError as e:
        raise FileFormatError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})"
                              ) from None
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{path}: not valid UTF-8 ({e.reason})") from None


def preflight(config: Config, splits: Iterable[str] = ("train",)) -> None:
    """Checks the data of `splits` and the checkpoint paths of `config` (see the module)."""
    check_task(config.task, splits)
    check_checkpoints(config.model)


def preflight_run(model_dir: str, splits: Iterable[str] = ("validation",)) -> Config:
    """Checks that `model_dir` is a run (its config.yaml loads) and the data of `splits`, as
    evaluating or exporting it will need them; returns the run's config."""
    path = textfiles.join(model_dir, RUN_CONFIG)
    if not textfiles.isfile(path):
        raise FileNotFoundError(f"{path}: missing; is {model_dir} a bert2bert model_dir?")
    config = config_from_dict(read_yaml(path), where=path)
    check_task(config.task, splits)
    return config
