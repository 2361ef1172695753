"""Evaluation of a run: decode a split, write predictions, score with the task's metrics.

    results = evaluate("runs/smoke")                      # newest checkpoint
    results = evaluate("runs/smoke", strategy="mirrored") # per-replica batches, same numbers
    evaluate_continuously("runs/smoke", timeout=600)      # like Estimator's continuous eval

Writes `eval/predictions-<step>.txt` (one line per example), `eval/results-<step>.json`
(the metrics, the teacher-forced `loss`, without label smoothing, and its `perplexity`) and
TensorBoard scalars under `eval/`. Under a strategy each replica decodes its share of every
batch (`training.eval_step`); the loss is the SUM of token losses over the SUM of tokens and the
hypotheses are gathered in the split's order, so any replica count gives one device's results.
With `train.static_shapes` (on under the tpu strategy) every batch has one shape, the final
partial one padded and its padded rows dropped; with `train.jit_compile` the loss and the
decoding are compiled with XLA (with static shapes, once for the whole split).
"""
import dataclasses
import json
import logging
import math
import time
from typing import Dict, List, Optional

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError
from bert2bert.data import make_dataset
from bert2bert.data.features import pad_ids_of
from bert2bert.decoding import decode as run_decoding
from bert2bert.metrics import compute_metrics
from bert2bert import atomic
from bert2bert.training import run_dir
from bert2bert.training.eval_step import EvalStep, eval_batches
from bert2bert.training.strategy import is_chief, strategy_of, uses_static_shapes

log = logging.getLogger("bert2bert")


@dataclasses.dataclass
class Decoded:
    """A split decoded by one checkpoint, in the split's order."""

    hypotheses: List[str]
    sources: List[str]
    references: List[str]
    loss_sum: float      # teacher-forced token losses of the split, summed
    tokens: float        # real target tokens of the split
    traces: Dict[str, int]  # traces of the eval step's functions (`EvalStep.traces`)

    @property
    def loss(self) -> float:
        return self.loss_sum / self.tokens if self.tokens else float("nan")


def tokenized_text(tokenizer, texts):
    """`texts` as the tokenizer renders them: detokenize(tokenize(text)), stripped."""
    out = []
    for i in range(0, len(texts), 256):
        ids = tokenizer.tokenize(tf.constant(texts[i:i + 256], tf.string))
        out += [t.decode("utf-8").strip() for t in tokenizer.detokenize(ids).numpy()]
    return out


def decode_split(trained, split: str, strategy, max_examples: Optional[int] = None,
                 progress: bool = True, static_shapes: Optional[bool] = None,
                 jit_compile: Optional[bool] = None,
                 steps: Optional[Dict[tuple, EvalStep]] = None) -> Decoded:
    """Decodes `split` with a restored run (`run_dir.restore_model`, its model built in
    `strategy`'s scope) and computes its teacher-forced loss. `static_shapes` and
    `jit_compile` default to the run's `train.*` settings (static under the tpu strategy).
    `steps`: evaluation steps kept from earlier calls with the same model and config
    (`Evaluator`), so that another checkpoint restored into it is decoded without tracing
    again."""
    config, model = trained.config, trained.model
    source_tok, target_tok = trained.source_tokenizer, trained.target_tokenizer
    special = target_tok.special_tokens
    start_id = model.spec.start_id(special)
    static = uses_static_shapes(config.train.static_shapes if static_shapes is None
                                else static_shapes, strategy)
    jit = config.train.jit_compile if jit_compile is None else jit_compile
    replicas = strategy.num_replicas_in_sync
    rows = -(-config.train.eval_batch_size // replicas) * replicas  # a multiple of replicas
    dataset = make_dataset(config.task, split, source_tok, target_tok, rows,
                           data_dir=config.task.data_dir, manual_dir=config.task.manual_dir,
                           decoder_only=model.spec.decoder_only, training=False,
                           limit=max_examples or config.train.max_eval_examples,
                           keep_text=True, start_id=start_id).cache()
    sources, refs = [], []
    for inputs, _ in dataset:  # the strings, on the host (fills the cache)
        sources += [t.decode("utf-8") for t in inputs["source_text"].numpy()]
        refs += [t.decode("utf-8") for t in inputs["target_text"].numpy()]
    lengths = (config.task.max_source_length, config.task.max_target_length) if static else None
    batches = eval_batches(dataset, rows, pad_ids_of(source_tok, target_tok,
                                                     model.spec.decoder_only), lengths)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    max_length = config.decode.max_length or config.task.max_target_length

    def decode_fn(ids, mask):  # the run's decode settings: beam search unless beam_size is 1
        return run_decoding(model, ids, mask, config.decode, special, max_length, start_id)

    distributed = strategy.experimental_distribute_dataset(batches.with_options(options))
    key = (split, static, jit, rows)
    step = (steps or {}).get(key)
    if step is None:
        step = EvalStep(model, strategy, decode_fn, jit_compile=jit,
                        element_spec=distributed.element_spec)
        if steps is not None:
            steps[key] = step
    from tqdm.auto import tqdm

    hyps, loss_sum, tokens = [], 0.0, 0.0
    for batch in tqdm(distributed, desc=f"eval {split}", unit="batch", disable=not progress,
                      total=math.ceil(len(refs) / rows)):
        total, count, ids, real = step(batch)
        loss_sum, tokens = loss_sum + float(total), tokens + float(count)
        ids = ids.numpy()[real.numpy() > 0]
        hyps += [t.decode("utf-8").strip() for t in target_tok.detokenize(ids).numpy()]
    return Decoded(hyps, sources, refs, loss_sum, tokens, dict(step.traces))


def evaluate(model_dir: str, checkpoint: Optional[int] = None, split: str = "validation",
             max_examples: Optional[int] = None, progress: bool = True, strategy="default",
             tpu: Optional[str] = None, *, static_shapes: Optional[bool] = None,
             jit_compile: Optional[bool] = None) -> Dict:
    """Decodes `split` with the given (or newest) checkpoint and scores it. `strategy`: a name
    of `training.strategy.STRATEGIES` or a tf.distribute strategy; the chief writes."""
    return Evaluator(model_dir, split, max_examples, strategy, tpu, static_shapes=static_shapes,
                     jit_compile=jit_compile)(checkpoint, progress)


class Evaluator:
    """`evaluate` for checkpoint after checkpoint of one run: the model is built and the
    evaluation step traced once; each later checkpoint is restored into the same model (while
    the run's config.yaml is unchanged). Training's evaluations, continuous evaluation and
    the demo use one."""

    def __init__(self, model_dir: str, split: str = "validation",
                 max_examples: Optional[int] = None, strategy="default",
                 tpu: Optional[str] = None, *, static_shapes: Optional[bool] = None,
                 jit_compile: Optional[bool] = None):
        self.model_dir, self.split, self.max_examples = model_dir, split, max_examples
        self.strategy = strategy_of(strategy, tpu)
        self.static_shapes, self.jit_compile = static_shapes, jit_compile
        self._trained, self._steps = None, {}

    def __call__(self, checkpoint: Optional[int] = None, progress: bool = False) -> Dict:
        model = self._trained and self._trained.model
        with self.strategy.scope():
            self._trained = run_dir.restore_model(self.model_dir, checkpoint, into=self._trained)
        if self._trained.model is not model:  # the run's config changed: a new model
            self._steps = {}
        return _score(self.model_dir, self._trained, decode_split(
            self._trained, self.split, self.strategy, self.max_examples, progress,
            self.static_shapes, self.jit_compile, self._steps), self.split, self.strategy)


def _score(model_dir: str, trained, decoded: Decoded, split: str, strategy) -> Dict:
    """Scores a decoded split, writes the results (the chief) and returns them."""
    config, step = trained.config, trained.step
    hyps, sources, refs = decoded.hypotheses, decoded.sources, decoded.references
    if config.task.metrics_on_tokenized_text:
        sources, refs = (tokenized_text(trained.target_tokenizer, texts)
                         for texts in (sources, refs))
    lower = config.task.lowercase_metrics
    scores = compute_metrics(config.task.metrics or ["exact"], sources,
                             [h.lower() for h in hyps] if lower else hyps,
                             [r.lower() for r in refs] if lower else refs)
    scores = {k: float(v) for k, v in scores.items()}
    scores.update(loss=decoded.loss, perplexity=_perplexity(decoded.loss))
    results = {"step": step, "checkpoint": trained.checkpoint, "split": split,
               "examples": len(refs), **scores}
    if is_chief(strategy):
        _write(model_dir, step, hyps, results, scores)
    log.info("eval at step %d: %s", step, scores)
    return results


def _perplexity(loss: float) -> float:
    return loss if math.isnan(loss) else math.exp(min(loss, 700.0))


def _write(model_dir: str, step: int, hyps: List[str], results: Dict, scores: Dict) -> None:
    """eval/predictions-<step>.txt, eval/results-<step>.json and the TensorBoard scalars."""
    out_dir = textfiles.join(model_dir, "eval")
    atomic.write_text(textfiles.join(out_dir, f"predictions-{step}.txt"),
                     "".join(h.replace("\n", " ") + "\n" for h in hyps))
    atomic.write_json(textfiles.join(out_dir, f"results-{step}.json"), results)
    writer = tf.summary.create_file_writer(out_dir)
    with writer.as_default(step=step):
        for key, value in scores.items():
            tf.summary.scalar(key, value)
    writer.flush()


def evaluate_continuously(model_dir: str, split: str = "validation", timeout: float = 3600,
                          max_examples: Optional[int] = None, strategy="default",
                          tpu: Optional[str] = None):
    """Evaluates every new checkpoint until the run reaches its last step (re-read from the
    run's config.yaml each time: a resumed run may have changed it) or none appears for
    `timeout` seconds. A checkpoint deleted or unreadable before it could be evaluated
    (`keep_checkpoints`) is skipped, loudly. `strategy` is made once for all of them.
    Returns the list of results."""
    evaluator = Evaluator(model_dir, split, max_examples, strategy, tpu)
    results = []
    for path in tf.train.checkpoints_iterator(model_dir, timeout=timeout):
        step = int(path.rsplit("-", 1)[-1])
        try:
            results.append(evaluator(step))
            print(json.dumps(results[-1]), flush=True)
        except CheckpointError as e:
            log.warning("skipped %s: %s", path, e)
            print(f"warning: skipped {path}: {e}", flush=True)
        if step >= run_dir.load_run_config(model_dir).train.train_steps:
            break
        time.sleep(0.1)
    return results
