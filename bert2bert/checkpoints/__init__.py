"""Original checkpoints: one reader per format, warm start, and the warm-start report."""
from bert2bert.checkpoints.base import CheckpointError, CheckpointReader, trained_architecture
from bert2bert.checkpoints.detect import READERS, open_checkpoint
from bert2bert.checkpoints.warm_start import (
    WarmStartReport, build_warm_started_model, config_from_checkpoints, open_readers, warm_start)

__all__ = ["trained_architecture", "CheckpointError", "CheckpointReader", "READERS", "WarmStartReport",
           "build_warm_started_model", "config_from_checkpoints", "open_checkpoint",
           "open_readers", "warm_start"]
