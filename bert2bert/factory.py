"""From a config to a model, in one place: checkpoints opened, the architecture resolved once
(`bert2bert.resolve`), the model built and warm-started with its report. The training loop,
the CLI, evaluation and export (through `training.run_dir.restore_model`) all build here.

    started = warm_started(config)            # a new run
    print(started.report.summary())
    model = model_of_run(run_config)          # a run directory's config.yaml, no checkpoints
"""
import contextlib
import dataclasses
from typing import Dict, NamedTuple, Optional

from bert2bert.checkpoints.base import CheckpointReader
from bert2bert.checkpoints.vocabulary import vocabularies
from bert2bert.checkpoints.warm_start import (WarmStartReport, architectures, open_readers,
                                              warm_start)
from bert2bert.config import Config, validate
from bert2bert.models import Seq2SeqModel, build_model
from bert2bert.resolve import model_spec, pinned_config


class WarmStarted(NamedTuple):
    """A new model and where its weights came from."""

    config: Config  # the architecture pinned from the checkpoints (a run's config.yaml)
    model: Seq2SeqModel
    report: WarmStartReport
    readers: Dict[str, Optional[CheckpointReader]]


def warm_started(config: Config, label_smoothing: float = 0.0, scope=None,
                 strict: bool = True) -> WarmStarted:
    """Opens the config's checkpoints, resolves the model from them, builds it (in `scope`,
    e.g. a strategy's) and loads them."""
    readers = open_readers(config.model)
    checkpoints = architectures(readers)
    pinned = dataclasses.replace(config, model=pinned_config(config.model, checkpoints))
    # The lengths against the checkpoints' position tables (the config alone could not say).
    validate(pinned, " (with the checkpoints' architecture)")
    if config.model.decoder_start != "start":  # its token is in the vocabulary: one line now
        model_spec(config.model, checkpoints).start_id(
            vocabularies(config.model, readers).target.tokenizer().special_tokens)
    with scope or contextlib.nullcontext():
        model = build_model(config.model, label_smoothing=label_smoothing,
                            checkpoints=checkpoints)
    return WarmStarted(pinned, model, warm_start(model, readers, strict=strict), readers)


def model_of_run(config: Config, label_smoothing: float = 0.0, scope=None) -> Seq2SeqModel:
    """The model of a run directory's (pinned) config, with fresh weights to restore into."""
    with scope or contextlib.nullcontext():
        return build_model(config.model, label_smoothing=label_smoothing)
