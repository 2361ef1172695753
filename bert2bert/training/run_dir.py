"""The run directory: saved config, vocabularies, checkpoints with resume and fallback.

    model_dir/
      config.yaml         the config with the model shape resolved from the checkpoints
      vocab/              the vocabulary files of both sides, and vocab.json saying which
      warm_start.json     the warm-start report (first start only)
      ckpt-N.*            checkpoints (model, optimizer slots, step, dropout RNG state)
      train/, eval/       TensorBoard summaries; eval/results-N.json, eval/predictions-N.txt
"""
import dataclasses
import json
import logging
import os
import shutil
from typing import Dict, Optional

import tensorflow as tf

from bert2bert.checkpoints.base import CheckpointError
from bert2bert.checkpoints.vocabulary import tokenizer_from_spec
from bert2bert.config import Config, config_from_dict, read_yaml
from bert2bert.models import build_model

log = logging.getLogger("bert2bert")
CONFIG_FILE = "config.yaml"
VOCAB_DIR = "vocab"


def save_config(model_dir: str, config: Config) -> None:
    with open(os.path.join(model_dir, CONFIG_FILE), "w", encoding="utf-8") as f:
        f.write(config.to_yaml())


def load_run_config(model_dir: str) -> Config:
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: missing; is {model_dir} a bert2bert model_dir?")
    return config_from_dict(read_yaml(path), where=path)


def save_vocabularies(model_dir: str, tokenizer_specs: Dict[str, Dict]) -> Dict[str, Dict]:
    """Copies each side's vocabulary files into model_dir/vocab/<side>/; returns the specs
    with the copied paths (also written to vocab/vocab.json)."""
    saved = {}
    for side, spec in tokenizer_specs.items():
        target = os.path.join(model_dir, VOCAB_DIR, side)
        os.makedirs(target, exist_ok=True)
        files = {}
        for key, path in spec["files"].items():
            dest = os.path.join(target, os.path.basename(path))
            if os.path.abspath(path) != os.path.abspath(dest):
                shutil.copyfile(path, dest)
            files[key] = os.path.join(VOCAB_DIR, side, os.path.basename(path))
        saved[side] = {"family": spec["family"], "files": files, "lowercase": spec["lowercase"]}
    with open(os.path.join(model_dir, VOCAB_DIR, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(saved, f, indent=1)
    return saved


def load_vocabularies(model_dir: str) -> Dict[str, Dict]:
    """The vocabulary specs of a run, with absolute paths."""
    path = os.path.join(model_dir, VOCAB_DIR, "vocab.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: missing; the run directory has no vocabularies")
    with open(path, encoding="utf-8") as f:
        specs = json.load(f)
    for spec in specs.values():
        spec["files"] = {k: os.path.join(model_dir, v) for k, v in spec["files"].items()}
    return specs


def restore_latest(checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager,
                   expect_partial: bool = False) -> Optional[str]:
    """Restores the newest readable checkpoint, falling back to older ones (loudly).

    Returns the path restored, or None when there is none. If checkpoints exist
    but none can be read, raises naming them: never silently starts from scratch.
    """
    candidates = list(reversed(manager.checkpoints))
    if not candidates:
        return None
    errors = []
    for path in candidates:
        try:
            status = checkpoint.restore(path)
            if expect_partial:
                status.expect_partial()
            else:
                status.assert_existing_objects_matched()
            if path != candidates[0]:
                log.warning("fell back to %s because newer checkpoints could not be read: %s",
                            path, "; ".join(errors))
            return path
        except Exception as e:  # noqa: BLE001 - corrupt files raise many types
            errors.append(f"{path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            log.warning("cannot restore %s (%s)", path, errors[-1])
    raise CheckpointError("no readable checkpoint in the run directory: " + " | ".join(errors))


def checkpoint_path(model_dir: str, checkpoint: Optional[int] = None) -> str:
    """The path of checkpoint `ckpt-<checkpoint>` of a run, or of its newest one."""
    if checkpoint is None:
        path = tf.train.latest_checkpoint(model_dir)
        if path is None:
            raise CheckpointError(f"{model_dir}: no checkpoint yet (has the run trained?)")
        return path
    path = os.path.join(model_dir, f"ckpt-{checkpoint}")
    if not tf.io.gfile.exists(path + ".index"):
        raise CheckpointError(f"{path}: no such checkpoint in {model_dir}")
    return path


@dataclasses.dataclass
class TrainedModel:
    """A run's model restored from one checkpoint, with its config and tokenizers."""

    model: object
    config: Config
    source_tokenizer: object
    target_tokenizer: object
    checkpoint: str
    step: int


def restore_model(model_dir: str, checkpoint: Optional[int] = None) -> TrainedModel:
    """Builds the run's model and restores checkpoint `checkpoint` (default: the newest)."""
    config = load_run_config(model_dir)
    vocab = load_vocabularies(model_dir)
    path = checkpoint_path(model_dir, checkpoint)
    model = build_model(config.model)
    tf.train.Checkpoint(model=model).restore(path).expect_partial().assert_existing_objects_matched()
    return TrainedModel(model, config, tokenizer_from_spec(vocab["source"]),
                        tokenizer_from_spec(vocab["target"]), path,
                        int(path.rsplit("-", 1)[-1]))
