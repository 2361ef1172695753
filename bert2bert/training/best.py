"""The best checkpoint by an evaluation metric, kept in `model_dir/best/` (Estimator's
BestExporter, t2t's best-checkpoint selection): copied there when an evaluation beats the
record in `best/best.json`, so `keep_checkpoints` never deletes it.

    record = keep_if_best(model_dir, step, {"sari": 41.2}, config.train.keep_best)
    prefix = best_checkpoint(model_dir)        # model_dir/best/ckpt-<step>
"""
import dataclasses
import json
import os
from typing import Dict, Optional

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError
from bert2bert.config import KeepBest
from bert2bert import atomic

BEST_DIR = "best"
RECORD = "best.json"


@dataclasses.dataclass(frozen=True)
class BestRecord:
    metric: str
    mode: str
    value: float
    step: int


def read_record(model_dir: str) -> Optional[BestRecord]:
    path = textfiles.join(model_dir, BEST_DIR, RECORD)
    if not textfiles.exists(path):
        return None
    with textfiles.open_file(path, "r", encoding="utf-8") as f:
        return BestRecord(**json.load(f))


def keep_if_best(model_dir: str, step: int, metrics: Dict[str, float],
                 keep: KeepBest) -> Optional[BestRecord]:
    """Copies `ckpt-<step>` to `best/` when `metrics[keep.metric]` beats the record (ties keep
    the older); returns the record now in force (None when keep_best is off)."""
    if not keep.metric:
        return None
    if keep.metric not in metrics:
        raise CheckpointError(f"train.keep_best.metric {keep.metric!r}: not among the "
                              f"evaluation's metrics {sorted(metrics)} (see task.metrics)")
    value, record = float(metrics[keep.metric]), read_record(model_dir)
    if record is not None and (record.metric, record.mode) != (keep.metric, keep.mode):
        raise CheckpointError(
            f"{textfiles.join(model_dir, BEST_DIR, RECORD)}: kept by {record.metric} "
            f"({record.mode}); the config now says {keep.metric} ({keep.mode}): move best/ "
            "aside to start a new record")
    better = record is None or (value > record.value if keep.mode == "max"
                                else value < record.value)
    if not better:
        return record
    best = textfiles.join(model_dir, BEST_DIR)
    textfiles.makedirs(best)
    source = textfiles.join(model_dir, f"ckpt-{step}")
    pieces = textfiles.glob(source + ".*")
    if not any(p.endswith(".index") for p in pieces):
        raise CheckpointError(f"{source}: no such checkpoint to keep as the best")
    new = BestRecord(keep.metric, keep.mode, value, step)
    for piece in pieces:  # the new one first, then the record, then the old one goes
        textfiles.copy(piece, textfiles.join(best, os.path.basename(piece)), overwrite=True)
    atomic.write_json(textfiles.join(best, RECORD), dataclasses.asdict(new))
    if record is not None and record.step != step:
        for piece in textfiles.glob(textfiles.join(best, f"ckpt-{record.step}.*")):
            textfiles.remove(piece)
    return new


def best_checkpoint(model_dir: str) -> str:
    """The prefix of the kept best checkpoint, or a one-line error."""
    record = read_record(model_dir)
    if record is None:
        raise CheckpointError(f"{model_dir}: no best checkpoint (train with "
                              "train.keep_best.metric and --eval_every)")
    return textfiles.join(model_dir, BEST_DIR, f"ckpt-{record.step}")
