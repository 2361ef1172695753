"""The training loop: a resumable, distributed, TPU-Estimator-style run in a model_dir.

    summary = train(load_config("configs/experiments/smoke.yaml"), "runs/smoke")

Under any tf.distribute strategy the model, optimizer and step live in the
strategy scope; the loss is the sum of token losses divided by the GLOBAL
number of real target tokens, so any replica count gives the same update.
A run resumes from its newest readable checkpoint (weights, optimizer slots,
step and dropout RNG state). Text input (tsv, jsonl, tfds, builtin) skips the batches
already seen; prepared input (`task.file_format: prepared`, `bert2bert prepare`) is read
per worker with `distribute_datasets_from_function` and restarts at the example where it
stopped, recorded in the checkpoint (`bert2bert.data.run_input`): no replay.
"""
import contextlib
import dataclasses
import logging
import math
import time
from typing import Callable, Dict, Optional

import keras
import tensorflow as tf

from bert2bert import grid, textfiles
from bert2bert.checkpoints.vocabulary import Vocabularies, vocabularies
from bert2bert.config import Config
from bert2bert.data import make_dataset
from bert2bert.data.run_input import InputPosition, PreparedInput, check_prepared
from bert2bert.precision import resolve_dtype_policy
from bert2bert.errors import UsageError
from bert2bert.factory import model_of_run, warm_started
from bert2bert import atomic
from bert2bert.training import run_dir, run_lock
from bert2bert.training.best import keep_if_best
from bert2bert.training.optimizer import build_optimizer
from bert2bert.training.step import StepResult, TrainStep, make_train_step  # noqa: F401
from bert2bert.training.strategy import is_chief, resolve_strategy, uses_static_shapes

log = logging.getLogger("bert2bert")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the run stopped without saving that state."""


@dataclasses.dataclass
class TrainResult:
    model_dir: str
    start_step: int
    final_step: int
    last_loss: float
    losses: list
    skipped_updates: int = 0  # mixed_float16: updates skipped by loss scaling


def seed_states(model):
    """The dropout RNG state variables (Keras seed generators): saved with checkpoints."""
    return [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]


def datasets_for(config: Config, vocab: Vocabularies, split: str, batch_size: int,
                 training: bool, start_id: int):
    """The run's batches of `split`; `start_id` begins the decoder inputs (the model's
    `spec.start_id`)."""
    return make_dataset(
        config.task, split, vocab.source.tokenizer(), vocab.target.tokenizer(), batch_size,
        data_dir=config.task.data_dir, manual_dir=config.task.manual_dir,
        decoder_only=grid.VARIANTS[config.model.variant].decoder_only, training=training,
        static_shapes=config.train.static_shapes, shuffle_buffer=config.train.shuffle_buffer,
        bucket_boundaries="auto" if training and config.train.bucket_by_length else None,
        seed=config.train.seed, start_id=start_id)


def _prepare_run(config: Config, model_dir: str, strategy, overwrite: bool = False):
    """Builds (or rebuilds, on resume) the model and optimizer in the strategy scope.

    A run resumes only when a complete checkpoint exists; otherwise it starts afresh
    (warm start and report). The chief refuses a foreign directory or a changed config
    (`run_dir.check_run_dir`) unless `overwrite`, and writes the run's files atomically,
    config.yaml last."""
    chief = is_chief(strategy)
    textfiles.makedirs(model_dir)
    keras.utils.set_random_seed(config.train.seed)  # the same random init on every run
    resuming = bool(run_dir.scan_checkpoints(model_dir)[0])
    if chief:
        run_dir.check_run_dir(model_dir, config, resuming, overwrite)
    if resuming:
        saved = run_dir.load_run_config(model_dir)
        if saved.model.variant != config.model.variant:
            raise ValueError(f"{model_dir} holds a {saved.model.variant} run; the config asks for "
                             f"{config.model.variant}: use another --model_dir")
        resolved = dataclasses.replace(config, model=saved.model)
        if chief and resolved != saved:
            run_dir.save_config(model_dir, resolved)  # e.g. a longer train_steps, for eval
        vocab = run_dir.load_vocabularies(model_dir)
        model = model_of_run(resolved, config.train.label_smoothing, strategy.scope())
        return resolved, model, vocab, None
    resolved, model, report, readers = warm_started(
        config, config.train.label_smoothing, strategy.scope())
    vocab = vocabularies(config.model, readers)
    if chief:
        vocab = run_dir.save_vocabularies(model_dir, vocab)
        atomic.write_json(textfiles.join(model_dir, run_dir.REPORT_FILE), report.to_dict())
        run_dir.save_config(model_dir, resolved)  # last: marks the directory as a run
    print(report.summary(), flush=True)
    return resolved, model, vocab, report


def train(config: Config, model_dir: str, strategy_name: str = "default", tpu: Optional[str] = None,
          progress: bool = True, evaluate_fn: Optional[Callable] = None,
          stop_after: Optional[int] = None, save_initial: bool = False,
          overwrite: bool = False) -> TrainResult:
    """Trains until `config.train.train_steps` (or `stop_after` more steps); returns a summary.

    `save_initial`: a new run also saves the warm-started model as `ckpt-0` (to evaluate it).
    `overwrite`: train in a directory with other files, or replace a run's config."""
    if config.train.keep_best.metric and not (config.train.eval_every and evaluate_fn):
        raise UsageError("train.keep_best needs evaluations: set train.eval_every (--eval_every)")
    prepared = config.task.file_format == "prepared"
    if prepared:
        check_prepared(config)  # one line, before any model is built
    strategy = resolve_strategy(strategy_name, tpu)
    chief = is_chief(strategy)
    lock = run_lock.acquire(model_dir) if chief else None  # noqa: F841 - held until return
    precision = resolve_dtype_policy(config.model.dtype_policy, strategy_name)
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, dtype_policy=precision.policy))
    config, model, vocab, _ = _prepare_run(config, model_dir, strategy, overwrite)
    # A strategy that needs one batch shape (tpu) turns static shapes on for this process;
    # config.yaml keeps what the user set.
    config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, static_shapes=uses_static_shapes(config.train.static_shapes, strategy)))
    if model.dtype_policy.name != precision.policy:  # a resumed run keeps its own
        precision = resolve_dtype_policy(model.dtype_policy.name)
    tcfg = config.train
    hidden = model.spec.decoder.hidden_size
    with strategy.scope():
        optimizer = build_optimizer(config.optimizer, hidden, tcfg.train_steps,
                                    config.model.dtype_policy, clip_in_optimizer=False)
        optimizer.build(model.trainable_variables)
    position = InputPosition() if prepared else None
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, seeds=seed_states(model),
                                     step=global_step,
                                     **(position.checkpointed() if position else {}))
    directory = (model_dir if chief else
                 textfiles.join(model_dir, f"worker_{_task_id(strategy)}"))
    manager, restored = run_dir.open_checkpoints(checkpoint, directory, tcfg.keep_checkpoints)
    start = int(global_step.numpy())  # updates done (also those skipped by loss scaling)
    if chief:
        print(precision.line(), flush=True)
        if not restored:  # a resumed run keeps the record (and reason) of its first start
            _record_precision(model_dir, precision)
    if restored:
        print(f"resumed from {restored} at step {start}", flush=True)
    elif save_initial:
        manager.save(checkpoint_number=0)
    if stop_after == 0:  # the run directory and its first checkpoint only: no data read
        return TrainResult(model_dir, start, start, float("nan"), [])

    accumulation = tcfg.gradient_accumulation_steps
    # The input is made last, right before it is read: a SentencePiece tokenizer's TensorFlow
    # resource made earlier in the run can be gone by then (text/sentencepiece.py).
    start_id = model.spec.start_id(vocab.target.tokenizer().special_tokens)
    source = PreparedInput(config, vocab, start_id, strategy, position) if prepared else None
    if source:  # each worker its shards, from the recorded position
        iterator = source.iterator(start)
    else:
        dataset = datasets_for(config, vocab, "train", tcfg.batch_size, training=True,
                               start_id=start_id)
        dataset = dataset.skip(start * accumulation)  # micro-batches already consumed
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
    train_step = TrainStep(model, optimizer, strategy, tcfg.label_smoothing,
                           config.optimizer.clip_norm, tcfg.jit_compile, accumulation)
    loss_scaling = config.model.dtype_policy == "mixed_float16"

    writer = tf.summary.create_file_writer(textfiles.join(model_dir, "train")) if chief else \
        tf.summary.create_noop_writer()
    end = tcfg.train_steps if stop_after is None else min(tcfg.train_steps, start + stop_after)
    bar = _progress(start, tcfg.train_steps, progress and chief)
    per_loop = tcfg.steps_per_loop or default_steps_per_loop(strategy)
    losses, loss, step, skipped = [], float("nan"), start, 0
    last_log, examples = time.time(), 0
    while step < end:
        # One loop runs up to the next checkpoint, evaluation or the end, at most per_loop.
        stops = [end, _next_multiple(step, tcfg.checkpoint_every)]
        if evaluate_fn is not None and tcfg.eval_every:
            stops.append(_next_multiple(step, tcfg.eval_every))
        results = train_step.run(iterator, min(per_loop, min(stops) - step))
        for result in _per_update(results):
            loss, norm = float(result.loss), float(result.gradient_norm)
            step += 1
            if loss_scaling and bool(result.skipped):
                skipped += 1  # the loss scale was too high: halved, update skipped
                bar.write(f"step {step}: gradient not finite under loss scaling; update "
                          f"skipped ({skipped} so far)")
            elif not (math.isfinite(loss) and math.isfinite(norm)):
                last = manager.latest_checkpoint
                bar.close()
                raise NonFiniteLossError(
                    f"non-finite {'loss' if not math.isfinite(loss) else 'gradient'} "
                    f"({loss if not math.isfinite(loss) else norm}) at step {step}; stopped. The "
                    f"last good checkpoint is {last or 'none (no checkpoint was written yet)'}")
            losses.append(loss)
            examples += int(result.examples)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if step % tcfg.log_every == 0 or step == end:
                elapsed = max(time.time() - last_log, 1e-9)
                lr = float(result.learning_rate)
                with writer.as_default(step=step):
                    tf.summary.scalar("loss", loss)
                    tf.summary.scalar("learning_rate", lr)
                    tf.summary.scalar("gradient_norm", norm)
                    tf.summary.scalar("examples_per_second", examples / elapsed)
                    if loss_scaling:
                        tf.summary.scalar("skipped_updates", skipped)
                        tf.summary.scalar("loss_scale", float(optimizer.dynamic_scale))
                writer.flush()
                bar.write(f"step {step}/{tcfg.train_steps} loss {loss:.4f} lr {lr:.3g} "
                          f"grad_norm {norm:.3g} examples/s {examples / elapsed:.1f}")
                last_log, examples = time.time(), 0
        evaluate_now = bool(evaluate_fn is not None and chief and tcfg.eval_every and (
            step % tcfg.eval_every == 0 or step == end))
        if step % tcfg.checkpoint_every == 0 or step == end or evaluate_now:
            global_step.assign(step)
            if source:
                source.mark(step)
            manager.save(checkpoint_number=step)
        if evaluate_now:
            with evaluation_scope(strategy):
                metrics = evaluate_fn(model_dir, step)
            if tcfg.keep_best.metric and metrics is not None:
                record = keep_if_best(model_dir, step, metrics, tcfg.keep_best)
                if record.step == step:
                    bar.write(f"step {step}: best {record.metric} so far ({record.value:.4g}); "
                              f"kept as {textfiles.join(model_dir, 'best', f'ckpt-{step}')}")
    bar.close()
    return TrainResult(model_dir, start, step, loss, losses, skipped)


def evaluation_scope(strategy):
    """Where evaluations during training run: in the run's strategy scope (its devices, as
    `tf.distribute.get_strategy()`), except under multi_worker, where only the chief
    evaluates and so cannot join collectives: there on its own devices."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return contextlib.nullcontext()
    return strategy.scope()


def default_steps_per_loop(strategy) -> int:
    """1 on the default strategy (a CPU or one device: every step reported as it happens);
    100 under a distribution strategy, where a host round trip per step idles the devices."""
    default = isinstance(strategy, type(tf.distribute.get_strategy()))
    return 1 if default else 100


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every


def _per_update(results: StepResult):
    """The `StepResult` of each update of a loop's results ([n] tensors, fetched once)."""
    fields = [v.numpy() for v in results.values()]
    return [StepResult(*values) for values in zip(*fields)]


def _record_precision(model_dir: str, precision) -> None:
    """Writes what dtype policy the run uses and why (`precision.json`)."""
    atomic.write_json(textfiles.join(model_dir, "precision.json"), precision.to_dict())


def _task_id(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_id", 0)


def _progress(start, total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, disable=not enabled, desc="train", unit="step",
                dynamic_ncols=True)
