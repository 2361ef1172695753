"""Evaluation of a run: decode a split, write predictions, score with the task's metrics.

    results = evaluate("runs/smoke")                      # newest checkpoint
    evaluate_continuously("runs/smoke", timeout=600)      # like Estimator's continuous eval

Writes `eval/predictions-<step>.txt` (one line per example), `eval/results-<step>.json`
and TensorBoard scalars under `eval/`.
"""
import json
import logging
import time
from typing import Dict, Optional

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError
from bert2bert.data import make_dataset
from bert2bert.decoding import decode as run_decoding
from bert2bert.metrics import compute_metrics
from bert2bert.training import files, run_dir

log = logging.getLogger("bert2bert")


def tokenized_text(tokenizer, texts):
    """`texts` as the tokenizer renders them: detokenize(tokenize(text)), stripped."""
    out = []
    for i in range(0, len(texts), 256):
        ids = tokenizer.tokenize(tf.constant(texts[i:i + 256], tf.string))
        out += [t.decode("utf-8").strip() for t in tokenizer.detokenize(ids).numpy()]
    return out


def evaluate(model_dir: str, checkpoint: Optional[int] = None, split: str = "validation",
             max_examples: Optional[int] = None, progress: bool = True) -> Dict:
    """Decodes `split` with the given (or newest) checkpoint and scores it."""
    trained = run_dir.restore_model(model_dir, checkpoint)
    config, model, path, step = trained.config, trained.model, trained.checkpoint, trained.step
    source_tok, target_tok = trained.source_tokenizer, trained.target_tokenizer
    special = target_tok.special_tokens
    start_id = model.spec.start_id(special)
    limit = max_examples or config.train.max_eval_examples
    batch = config.train.eval_batch_size
    dataset = make_dataset(config.task, split, source_tok, target_tok, batch,
                           data_dir=config.task.data_dir, manual_dir=config.task.manual_dir,
                           decoder_only=model.spec.decoder_only, training=False, limit=limit,
                           keep_text=True, start_id=start_id)  # batches carry their strings
    max_length = config.decode.max_length or config.task.max_target_length

    @tf.function(reduce_retracing=True)
    def decode(ids, mask):  # the run's decode settings: beam search unless beam_size is 1
        return run_decoding(model, ids, mask, config.decode, special, max_length, start_id)

    from tqdm.auto import tqdm

    hyps, sources, refs = [], [], []
    for inputs, _ in tqdm(dataset, desc=f"eval {split}", unit="batch", disable=not progress):
        ids, _ = decode(inputs["encoder_token_ids"], inputs["encoder_padding_mask"])
        hyps += [t.decode("utf-8").strip() for t in target_tok.detokenize(ids).numpy()]
        sources += [t.decode("utf-8") for t in inputs["source_text"].numpy()]
        refs += [t.decode("utf-8") for t in inputs["target_text"].numpy()]
    if config.task.metrics_on_tokenized_text:
        sources, refs = (tokenized_text(target_tok, texts) for texts in (sources, refs))
    lower = config.task.lowercase_metrics
    scores = compute_metrics(config.task.metrics or ["exact"], sources,
                             [h.lower() for h in hyps] if lower else hyps,
                             [r.lower() for r in refs] if lower else refs)
    out_dir = textfiles.join(model_dir, "eval")
    files.write_text(textfiles.join(out_dir, f"predictions-{step}.txt"),
                     "".join(h.replace("\n", " ") + "\n" for h in hyps))
    results = {"step": step, "checkpoint": path, "split": split, "examples": len(refs),
               **{k: float(v) for k, v in scores.items()}}
    files.write_json(textfiles.join(out_dir, f"results-{step}.json"), results)
    writer = tf.summary.create_file_writer(out_dir)
    with writer.as_default(step=step):
        for key, value in scores.items():
            tf.summary.scalar(key, float(value))
    writer.flush()
    log.info("eval at step %d: %s", step, scores)
    return results


def evaluate_continuously(model_dir: str, split: str = "validation", timeout: float = 3600,
                          max_examples: Optional[int] = None):
    """Evaluates every new checkpoint until the run reaches its last step (re-read from the
    run's config.yaml each time: a resumed run may have changed it) or none appears for
    `timeout` seconds. A checkpoint deleted or unreadable before it could be evaluated
    (`keep_checkpoints`) is skipped, loudly. Returns the list of results."""
    results = []
    for path in tf.train.checkpoints_iterator(model_dir, timeout=timeout):
        step = int(path.rsplit("-", 1)[-1])
        try:
            results.append(evaluate(model_dir, step, split, max_examples, progress=False))
            print(json.dumps(results[-1]), flush=True)
        except CheckpointError as e:
            log.warning("skipped %s: %s", path, e)
            print(f"warning: skipped {path}: {e}", flush=True)
        if step >= run_dir.load_run_config(model_dir).train.train_steps:
            break
        time.sleep(0.1)
    return results
