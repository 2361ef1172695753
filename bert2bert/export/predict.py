"""Batch prediction from a run directory or an exported SavedModel: one output line per input line.

    predict_file("inputs.txt", "outputs.txt", saved_model="exports/smoke/1")
    predict_file("inputs.txt", "outputs.txt", model_dir="runs/smoke", beam_size=8)
"""
import logging
import os
from typing import Callable, List, Optional, Sequence

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.errors import UsageError
from bert2bert.textfiles import raw_lines
from bert2bert import atomic

log = logging.getLogger("bert2bert")


def generate_fn(model_dir: Optional[str] = None, saved_model: Optional[str] = None,
                checkpoint: Optional[int] = None, **decode) -> Callable:
    """A function: tf.string [batch] -> tf.string [batch], from exactly one of the two sources."""
    if (model_dir is None) == (saved_model is None):
        raise ValueError("give exactly one of model_dir (a training run) or saved_model "
                         "(an export)")
    if saved_model is not None:
        if any(v is not None for v in decode.values()) or checkpoint is not None:
            raise ValueError("decode settings and checkpoint apply to --model_dir only: a "
                             "SavedModel has its own (use its beam_search signature)")
        if not tf.saved_model.contains_saved_model(saved_model):
            raise FileNotFoundError(f"{saved_model}: no saved_model.pb here")
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

        loaded = tf.saved_model.load(saved_model)
        serve = loaded.signatures["serving_default"]
        generate = lambda strings: serve(inputs=strings)["outputs"]  # noqa: E731
        generate.saved_model = loaded  # keeps the variables alive as long as the function
        return generate
    from bert2bert.export.saved_model import generator_for_run

    gen = generator_for_run(model_dir, checkpoint, **decode)
    return lambda strings: gen.generate(strings)["outputs"]


def predict_lines(lines: Sequence, batch_size: int = 32, progress: bool = False,
                  **source) -> List[str]:
    """Outputs (str) for `lines` (str or bytes), in order; `source` as for `generate_fn`."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    generate = generate_fn(**source)
    outputs = []
    with tqdm(total=len(lines), desc="predict", unit="line", disable=not progress) as bar:
        for i in range(0, len(lines), batch_size):
            batch = tf.constant([x.encode("utf-8") if isinstance(x, str) else bytes(x)
                                 for x in lines[i:i + batch_size]], tf.string)
            outputs += [o.decode("utf-8", errors="replace").replace("\n", " ")
                        for o in generate(batch).numpy()]
            bar.update(int(batch.shape[0]))
    return outputs


def check_output(input_path: str, output_path: str, overwrite: bool = False):
    """Refuses (one line) an output that is the input (also through a link), or that exists
    unless `overwrite`."""
    same = textfiles.canonical(input_path) == textfiles.canonical(output_path)
    local = not (textfiles.is_url(input_path) or textfiles.is_url(output_path))
    if not same and local and os.path.exists(output_path) and os.path.exists(input_path):
        same = os.path.samefile(input_path, output_path)  # a link (URLs have none)
    if same:
        raise UsageError(f"--output {output_path} is the --input file; write elsewhere")
    if textfiles.lexists(output_path) and not overwrite:
        raise FileExistsError(f"{output_path} exists; pass --overwrite to replace it")


def predict_file(input_path: str, output_path: str, batch_size: int = 32,
                 progress: bool = True, overwrite: bool = False, **source) -> int:
    """Writes one prediction per line of `input_path` to `output_path`; returns the count.

    Input lines are read as bytes (`bert2bert.textfiles.raw_lines`: only "\\n" ends a line;
    invalid UTF-8 is replaced in the graph, not an error). A missing input raises the
    `FileNotFoundError` naming it; an existing `output_path` is refused unless `overwrite`; the
    output is written atomically (complete or not at all)."""
    lines = list(raw_lines(input_path))
    check_output(input_path, output_path, overwrite)
    outputs = predict_lines(lines, batch_size=batch_size, progress=progress, **source)
    atomic.write_text(output_path, "".join(o + "\n" for o in outputs), overwrite)
    log.info("wrote %d predictions to %s", len(outputs), output_path)
    return len(outputs)
