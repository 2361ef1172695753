"""Writing a run as a servable, reusable TF2 SavedModel.

    path = export_run("runs/smoke", "exports/smoke", beam_size=4, alpha=0.6)
    # exports/smoke/<version>/{saved_model.pb, variables/, assets/, assets.extra/bert2bert.json,
    #                         assets.extra/tf_serving_warmup_requests}

The SavedModel needs only `tensorflow` and `tensorflow_text` to load. Its signatures are
`serving_default`, `beam_search`, `generate_ids` and `score` (see `Generator`); it is also a
reusable SavedModel for `hub.load`: `variables`, `trainable_variables`, `regularization_losses`
and `__call__(inputs, training)` returning the logits, so it can be fine-tuned.
"""
import contextlib
import dataclasses
import logging
import os
import time
from typing import Optional

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.config import DecodeConfig
from bert2bert.export.generator import IDS, Generator
from bert2bert.export.warmup import write_warmup_requests
from bert2bert import atomic
from bert2bert.training import run_dir

log = logging.getLogger("bert2bert")
METADATA = "bert2bert.json"
MODEL_INPUTS = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
                "decoder_padding_mask")


def generator_for_run(model_dir: str, checkpoint: Optional[int] = None,
                      static_shapes: bool = False, best: bool = False, xla: bool = False,
                      **decode) -> Generator:
    """A `Generator` for a run's checkpoint (`best`: the one `train.keep_best` kept; `xla`:
    the search compiled with XLA);
    `decode` overrides the run's `decode:` settings (beam_size, alpha, max_length,
    min_length, no_repeat_ngram_size)."""
    trained = run_dir.restore_model(model_dir, checkpoint, best=best)
    config = trained.config
    unknown = set(decode) - {f.name for f in dataclasses.fields(DecodeConfig)}
    if unknown:
        raise ValueError(f"unknown decode setting(s) {sorted(unknown)}")
    settings = dataclasses.replace(config.decode,
                                   **{k: v for k, v in decode.items() if v is not None})
    if settings.beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {settings.beam_size}")
    max_target = settings.max_length or config.task.max_target_length
    gen = Generator(trained.model, trained.source_tokenizer, trained.target_tokenizer,
                    config.task.max_source_length, max_target, settings, static_shapes, xla)
    gen.run = {"model_dir": textfiles.absolute(model_dir), "checkpoint": trained.checkpoint,
               "step": trained.step, "config": config.to_dict()}
    return gen


def reusable_root(gen: Generator):
    """The object saved: the generator plus TF Hub's reusable-SavedModel attributes."""
    root = tf.__internal__.tracking.AutoTrackable()
    root.generator = gen
    root.variables = list(gen.model.variables)
    root.trainable_variables = list(gen.model.trainable_variables)
    root.regularization_losses = []
    spec = {name: IDS for name in MODEL_INPUTS}
    for training in (False, True):  # both traced, so `obj(inputs, training=True)` works
        gen.__call__.get_concrete_function(spec, training=training)
    root.__call__ = gen.__call__
    for name, function in gen.signatures().items():  # also callable as attributes
        setattr(root, "generate" if name == "serving_default" else name, function)
    return root


def save_generator(gen: Generator, path: str, metadata: Optional[dict] = None) -> str:
    """Writes `gen` as a SavedModel to `path` (which must not exist yet); returns `path`.

    Atomic: everything is written into a hidden temp folder beside `path` and renamed to
    `path` once complete, so a server watching the parent never sees a partial version
    (not on object stores such as gs://, where it is written in place)."""
    if textfiles.exists(path):
        raise FileExistsError(f"{path} exists: export into a new directory (or a new version)")
    started = time.time()
    remote = textfiles.is_url(path)
    tmp = path if remote else atomic.temp_name(path)
    try:
        tf.saved_model.save(reusable_root(gen), tmp, signatures=gen.signatures())
        atomic.write_json(textfiles.join(tmp, "assets.extra", METADATA), {
            "signatures": sorted(gen.signatures()),
            "max_source_length": gen.max_source_length,
            "max_target_length": gen.max_target_length,
            "decode": dataclasses.asdict(gen.decode),
            "static_shapes": gen.static_shapes,
            "xla": gen.xla,
            **(metadata or {})})
        write_warmup_requests(gen, tmp)
        if not remote:
            if textfiles.exists(path):
                raise FileExistsError(f"{path} appeared during the export; not replacing it")
            textfiles.move_tree(tmp, path)
    except BaseException:
        if not remote:
            textfiles.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s in %.0f s", path, time.time() - started)
    return path


def next_version(base: str) -> str:
    """`base/<n+1>` where n is the largest numeric version already in `base` (TF Serving layout)."""
    names = [v.strip("/") for v in (textfiles.listdir(base) if textfiles.isdir(base) else [])]
    versions = [int(v) for v in names if v.isdigit()]
    return textfiles.join(base, str(max(versions, default=0) + 1))


@contextlib.contextmanager
def claimed_version(base: str, version: Optional[int] = None):
    """Yields `base/<version>` (default: the next free one), reserved for this process by an
    exclusive create of `base/.claim-<version>` (released on exit): two exports running at
    once never take the same number. An explicit `version` that exists is a FileExistsError.
    Object stores (gs://) get the next number without a claim."""
    if textfiles.is_url(base):
        textfiles.makedirs(base)  # an explicit folder: some stores (ram://) list only those
        path = next_version(base) if version is None else textfiles.join(base, str(version))
        if textfiles.exists(path):
            raise FileExistsError(f"{path} exists: export into a new directory (or a new version)")
        yield path
        return
    textfiles.makedirs(base)
    number = version if version is not None else int(os.path.basename(next_version(base)))
    while True:
        path, claim = textfiles.join(base, str(number)), textfiles.join(base, f".claim-{number}")
        if not textfiles.exists(path):
            try:
                os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                pass
            else:
                break
        if version is not None:
            raise FileExistsError(f"{path} exists (or is being exported): export into a new "
                                  "directory (or a new version)")
        number += 1
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            textfiles.remove(claim)


def export_run(model_dir: str, output: str, checkpoint: Optional[int] = None,
               version: Optional[int] = None, static_shapes: bool = False, best: bool = False,
               xla: bool = False, **decode) -> str:
    """Exports a run's checkpoint to `output/<version>` (default: the next free version);
    the newest readable checkpoint unless `checkpoint` is given or `best` (the checkpoint
    `train.keep_best` kept); `xla` compiles the search with XLA (`Generator`)."""
    gen = generator_for_run(model_dir, checkpoint, static_shapes, best, xla, **decode)
    with claimed_version(output, version) as path:
        return save_generator(gen, path, metadata={"run": gen.run})
