"""The run directory: saved config, vocabularies, checkpoints with resume and fallback.

    model_dir/
      config.yaml         the config with the model shape resolved from the checkpoints
      vocab/              the vocabulary files of both sides, and vocab.json saying which
      warm_start.json     the warm-start report (first start only)
      ckpt-N.*            checkpoints (model, optimizer slots, step, dropout RNG state)
      checkpoint          TF's list of checkpoints (rebuilt from the ckpt-N files if lost)
      train/, eval/       TensorBoard summaries; eval/results-N.json, eval/predictions-N.txt
      .lock               the training process holding the run (`run_lock`)
      quarantine/         unfinished or unreadable checkpoints moved aside, kept for inspection

Every file is written atomically (`bert2bert.atomic`); a checkpoint counts only when complete (its
.index and every data shard present); numbers on disk are never saved over.
"""
import contextlib
import dataclasses
import json
import logging
import os
import re
import time
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError
from bert2bert.checkpoints.vocabulary import Vocabularies
from bert2bert.config import Config, config_from_dict, read_yaml
from bert2bert.errors import UsageError
from bert2bert.factory import model_of_run
from bert2bert.text.vocabulary import Vocabulary
from bert2bert import atomic
from bert2bert.training.run_lock import LOCK_FILE

log = logging.getLogger("bert2bert")
CONFIG_FILE = "config.yaml"
VOCAB_DIR = "vocab"
REPORT_FILE = "warm_start.json"
QUARANTINE = "quarantine"
STATE_FILE = "checkpoint"
# Keys a resumed run may change without --overwrite: how long and how often, not what.
RESUMABLE = ("train.train_steps", "train.checkpoint_every", "train.keep_checkpoints",
             "train.log_every", "train.eval_every", "train.eval_batch_size",
             "train.max_eval_examples", "decode.",
             "model.dtype_policy")  # resolved per machine; a resumed run keeps its own
_CKPT = re.compile(r"^ckpt-(\d+)(\.index|\.data-(\d+)-of-(\d+)|_temp)$")
_OWN = re.compile(r"^(config\.yaml|vocab|warm_start\.json|precision\.json|averaged\.json|"
                  r"checkpoint(\.tmp.*)?|"
                  rf"ckpt-\d+.*|train|eval|best|worker_\d+|{re.escape(LOCK_FILE)}|{QUARANTINE})$")


# ------------------------------------------------------------------ config and vocabularies


def save_config(model_dir: str, config: Config) -> None:
    atomic.write_text(textfiles.join(model_dir, CONFIG_FILE), config.to_yaml())


def load_run_config(model_dir: str) -> Config:
    path = textfiles.join(model_dir, CONFIG_FILE)
    if not textfiles.isfile(path):
        raise CheckpointError(f"{path}: missing; is {model_dir} a bert2bert model_dir?")
    return config_from_dict(read_yaml(path), where=path)


def save_vocabularies(model_dir: str, vocabs: Vocabularies) -> Vocabularies:
    """Copies each side's vocabulary files into model_dir/vocab/<side>/ and writes
    vocab/vocab.json; returns the vocabularies as they now are in the run directory."""
    saved = {}
    for side, vocabulary in vocabs._asdict().items():
        moved = vocabulary.moved(textfiles.join(model_dir, VOCAB_DIR, side))
        for (_, path), (_, dest) in zip(vocabulary.files, moved.files):
            if textfiles.absolute(path) != textfiles.absolute(dest):
                atomic.copy_file(path, dest)
        saved[side] = moved
    atomic.write_json(textfiles.join(model_dir, VOCAB_DIR, "vocab.json"),
                     {side: v.to_json(model_dir) for side, v in saved.items()})
    return Vocabularies(**saved)


def load_vocabularies(model_dir: str) -> Vocabularies:
    """The vocabularies of a run (vocab/vocab.json, paths relative to the run directory)."""
    path = textfiles.join(model_dir, VOCAB_DIR, "vocab.json")
    if not textfiles.isfile(path):
        raise CheckpointError(f"{path}: missing; the run directory has no vocabularies")
    with textfiles.open_file(path, "r", encoding="utf-8") as f:
        data = json.load(f)
    return Vocabularies(**{side: Vocabulary.from_json(data[side], model_dir)
                           for side in Vocabularies._fields})


# ------------------------------------------------------------------ what the directory holds


def is_run(model_dir: str) -> bool:
    """A bert2bert run: config.yaml (written last on a first start) and vocab/vocab.json."""
    return all(textfiles.isfile(textfiles.join(model_dir, p))
               for p in (CONFIG_FILE, textfiles.join(VOCAB_DIR, "vocab.json")))


def foreign_entries(model_dir: str) -> List[str]:
    """The names in `model_dir` that a run did not write (a hand-made config.yaml included)."""
    if not textfiles.isdir(model_dir):
        return []
    names = sorted(n for n in textfiles.listdir(model_dir)
                   if not (_OWN.match(n) or atomic.is_temp_name(n)))
    if not is_run(model_dir) and textfiles.exists(textfiles.join(model_dir, CONFIG_FILE)):
        names.insert(0, CONFIG_FILE)
    return names


def _flat(d: Dict, prefix: str = "") -> Dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(saved: Config, new: Config) -> Dict[str, Tuple]:
    """{key: (saved, new)} for the keys that differ. A stack size the new config leaves to
    the checkpoint (model.encoder.* / model.decoder.* = null) is not a change: the saved
    config holds the value resolved from the checkpoint."""
    old, now = _flat(saved.to_dict()), _flat(new.to_dict())
    resolved = ("model.encoder.", "model.decoder.")
    return {k: (old.get(k), now.get(k)) for k in sorted(set(old) | set(now))
            if old.get(k) != now.get(k) and not (k.startswith(resolved) and now.get(k) is None)}


def check_run_dir(model_dir: str, config: Config, resuming: bool, overwrite: bool = False):
    """Refuses (FileExistsError / UsageError, one line) a directory with files a run did not
    write, or a run whose config differs from `config` in more than `RESUMABLE` keys;
    `overwrite` lets both through (a resumed run still keeps its model)."""
    foreign = foreign_entries(model_dir)
    if foreign and not overwrite:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise FileExistsError(f"{model_dir} holds files a bert2bert run did not write ({shown}); "
                              "use an empty or new --model_dir, or pass --overwrite")
    if not is_run(model_dir):
        return
    changes = config_changes(load_run_config(model_dir), config)
    fixed = {k: v for k, v in changes.items() if not k.startswith(RESUMABLE)}
    text = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changes.items())
    if resuming and any(k.startswith("model.") for k in fixed):
        model_keys = {k: v for k, v in fixed.items() if k.startswith("model.")}
        raise UsageError(f"{model_dir}: the config changes the model of a run with checkpoints "
                         f"({'; '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in model_keys.items())});"
                         " use another --model_dir")
    if fixed and not overwrite:
        raise UsageError(f"{model_dir} holds a run with another config ({text}); pass "
                         "--overwrite to replace its config, or use another --model_dir")
    if changes:
        print(f"config of {model_dir} updated: {text}", flush=True)


# ------------------------------------------------------------------ checkpoints on disk


def scan_checkpoints(directory: str) -> Tuple[List[int], List[str]]:
    """(numbers of the complete checkpoints, oldest first; names of unfinished pieces).

    Complete: `ckpt-N.index` and all of its data shards. Unfinished: `ckpt-N_temp/` (a save
    killed before TF's rename), data shards without an index, an index missing shards."""
    if not textfiles.isdir(directory):
        return [], []
    pieces: Dict[int, List] = {}
    for name in textfiles.listdir(directory):
        m = _CKPT.match(name)
        if m:
            pieces.setdefault(int(m.group(1)), []).append((name, m))
    complete, unfinished = [], []
    for n, found in sorted(pieces.items()):
        names = {name for name, _ in found}
        shards = {(int(m.group(3)), int(m.group(4))) for _, m in found if m.group(3)}
        total = {t for _, t in shards}
        whole = (f"ckpt-{n}.index" in names and len(total) == 1
                 and {i for i, _ in shards} == set(range(total.pop())))
        if whole:
            complete.append(n)
            unfinished += [name for name in names if name.endswith("_temp")]
        else:
            unfinished += sorted(names)
    return complete, sorted(unfinished)


def checkpoint_prefixes(directory: str) -> List[str]:
    """The prefixes of the complete checkpoints, oldest first."""
    return [textfiles.join(directory, f"ckpt-{n}") for n in scan_checkpoints(directory)[0]]


def _quarantine(directory: str, names: List[str], why: str):
    """Moves checkpoint files aside (never deleted, never saved over), loudly."""
    if not names:
        return
    target = textfiles.join(directory, QUARANTINE, time.strftime("%Y%m%d-%H%M%S"))
    textfiles.makedirs(target)
    for name in names:
        textfiles.rename(textfiles.join(directory, name), textfiles.join(target, name))
    message = f"moved {why} checkpoint files {', '.join(names)} to {target}"
    log.warning(message)
    print(f"warning: {message}", flush=True)


def restore_newest(checkpoint: tf.train.Checkpoint, prefixes: List[str],
                   expect_partial: bool = False) -> Optional[str]:
    """Restores the newest readable of `prefixes` (oldest first), falling back loudly.

    Returns the prefix restored, or None when there is none. If checkpoints exist but none
    can be read, raises naming them: never silently starts from scratch."""
    candidates = list(reversed(prefixes))
    errors = []
    for path in candidates:
        try:
            status = checkpoint.restore(path)
            if expect_partial:
                status.expect_partial()
            status.assert_existing_objects_matched()
        except Exception as e:  # noqa: BLE001 - corrupt files raise many types
            errors.append(f"{path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            log.warning("cannot restore %s (%s)", path, errors[-1])
            continue
        if errors:
            log.warning("fell back to %s because newer checkpoints could not be read: %s",
                        path, "; ".join(errors))
        return path
    if errors:
        raise CheckpointError("no readable checkpoint in the run directory: " + " | ".join(errors))
    return None


def restore_latest(checkpoint: tf.train.Checkpoint, manager: tf.train.CheckpointManager,
                   expect_partial: bool = False) -> Optional[str]:
    """`restore_newest` over a manager's checkpoints."""
    return restore_newest(checkpoint, manager.checkpoints, expect_partial)


class RunCheckpointManager(tf.train.CheckpointManager):
    """A CheckpointManager that never saves over an existing number and turns a failed save
    (disk full, ...) into a one-line `CheckpointError` after removing its pieces."""

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        if checkpoint_number is None:
            checkpoint_number = int(self._checkpoint.save_counter) + 1
        number = int(checkpoint_number)
        prefix = f"{self._checkpoint_prefix}-{number}"
        if textfiles.glob(prefix + ".*") or textfiles.exists(prefix + "_temp"):
            raise CheckpointError(f"{prefix} exists already; not saving over it")
        try:
            with _held_save():
                return super().save(number, check_interval, options)
        except (OSError, tf.errors.OpError) as e:
            for piece in textfiles.glob(prefix + ".*") + textfiles.glob(prefix + "_temp"):
                if textfiles.isdir(piece):
                    textfiles.rmtree(piece)
                else:
                    textfiles.remove(piece)
            reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise CheckpointError(f"cannot save {prefix}: {reason}; the previous checkpoint "
                                  f"{self.latest_checkpoint or '(none)'} is intact") from None


@contextlib.contextmanager
def _held_save():
    """Test hook: BERT2BERT_TEST_HOLD_SAVE=<seconds> sleeps between writing `ckpt-N_temp/`
    and TF's merge into `ckpt-N.*`, so that a test can kill a save half-way."""
    hold = float(os.environ.get("BERT2BERT_TEST_HOLD_SAVE", 0) or 0)
    if not hold:
        yield
        return
    from tensorflow.python.ops import gen_io_ops

    real = gen_io_ops.merge_v2_checkpoints

    def held(*args, **kwargs):
        print("BERT2BERT_TEST_HOLD_SAVE: holding the save", flush=True)
        time.sleep(hold)
        return real(*args, **kwargs)

    gen_io_ops.merge_v2_checkpoints = held
    try:
        yield
    finally:
        gen_io_ops.merge_v2_checkpoints = real


def open_checkpoints(checkpoint: tf.train.Checkpoint, directory: str,
                     max_to_keep: Optional[int]) -> Tuple[RunCheckpointManager, Optional[str]]:
    """For the process that writes `directory` (it holds the lock): moves unfinished and
    unreadable-newest checkpoints to quarantine/, restores the newest readable one, and
    rebuilds TF's `checkpoint` list from the files. Returns (manager, restored prefix)."""
    from tensorflow.python.checkpoint.checkpoint_management import \
        update_checkpoint_state_internal

    numbers, unfinished = scan_checkpoints(directory)
    _quarantine(directory, unfinished, "unfinished")
    prefixes = [textfiles.join(directory, f"ckpt-{n}") for n in numbers]
    restored = restore_newest(checkpoint, prefixes)
    if restored:
        newer = prefixes[prefixes.index(restored) + 1:]
        _quarantine(directory, [n for p in newer for n in textfiles.listdir(directory)
                                if n.startswith(os.path.basename(p) + ".")], "unreadable")
        prefixes = prefixes[:prefixes.index(restored) + 1]
        update_checkpoint_state_internal(directory, restored, prefixes, save_relative_paths=True)
    elif textfiles.exists(textfiles.join(directory, STATE_FILE)):
        textfiles.remove(textfiles.join(directory, STATE_FILE))  # lists nothing that exists
    manager = RunCheckpointManager(checkpoint, directory, max_to_keep=max_to_keep,
                                   checkpoint_name="ckpt")
    return manager, restored


# ------------------------------------------------------------------ reading a run


def checkpoint_path(model_dir: str, checkpoint: Optional[int] = None) -> str:
    """The prefix of the complete checkpoint `ckpt-<checkpoint>`, or of the newest one."""
    numbers = scan_checkpoints(model_dir)[0]
    if checkpoint is None:
        if not numbers:
            raise CheckpointError(f"{model_dir}: no checkpoint yet (has the run trained?)")
        return textfiles.join(model_dir, f"ckpt-{numbers[-1]}")
    if checkpoint not in numbers:
        raise CheckpointError(f"{textfiles.join(model_dir, f'ckpt-{checkpoint}')}: no such "
                              f"complete checkpoint in {model_dir} (have {numbers or 'none'})")
    return textfiles.join(model_dir, f"ckpt-{checkpoint}")


@dataclasses.dataclass
class TrainedModel:
    """A run's model restored from one checkpoint, with its config and tokenizers."""

    model: object
    config: Config
    source_tokenizer: object
    target_tokenizer: object
    checkpoint: str
    step: int


def _same_but_length(a: Config, b: Config) -> bool:
    """Equal configs but for `train.train_steps` (which a resumed run, or the demo, may
    change: it touches neither the model nor how it is evaluated)."""
    return a == dataclasses.replace(b, train=dataclasses.replace(
        b.train, train_steps=a.train.train_steps))


def restore_model(model_dir: str, checkpoint: Optional[int] = None,
                  best: bool = False, into: Optional[TrainedModel] = None) -> TrainedModel:
    """Builds the run's model and restores checkpoint `checkpoint`, the kept best one
    (`best`, see `training.best`), or else the newest readable one (falling back loudly, like
    training). An unreadable `checkpoint` is a one-line `CheckpointError`. `into`: a model
    restored earlier from this run: while the run's config is unchanged, the checkpoint is
    restored into that model (no new model, no new traces of its functions)."""
    config = load_run_config(model_dir)
    if into is not None and _same_but_length(into.config, config):
        model, tokenizers = into.model, (into.source_tokenizer, into.target_tokenizer)
    else:
        vocab = load_vocabularies(model_dir)
        model = model_of_run(config)
        tokenizers = (vocab.source.tokenizer(), vocab.target.tokenizer())
    restorer = tf.train.Checkpoint(model=model)
    if checkpoint is None and not best:
        path = restore_newest(restorer, checkpoint_prefixes(model_dir), expect_partial=True)
        if path is None:
            raise CheckpointError(f"{model_dir}: no checkpoint yet (has the run trained?)")
    else:
        if best:
            from bert2bert.training.best import best_checkpoint

            path = best_checkpoint(model_dir)
        else:
            path = checkpoint_path(model_dir, checkpoint)
        try:
            restorer.restore(path).expect_partial().assert_existing_objects_matched()
        except Exception as e:  # noqa: BLE001 - corrupt files raise many types
            raise CheckpointError(f"{path}: cannot be read ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0][:200]})") from None
    return TrainedModel(model, config, *tokenizers, path, int(path.rsplit("-", 1)[-1]))
