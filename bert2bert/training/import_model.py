"""`bert2bert import`: a whole trained encoder-decoder (a released model) becomes a run
directory, so that evaluate, predict, export and train (fine-tuning further: a new optimizer,
step 0) work on it unchanged.

    result = import_model("bert2bert_L-24_wmt_de_en/", "runs/wmt_de_en")
    print(result.settings)      # ImportSettings(variant='bert2bert', output_head='bias', ...)
"""
from typing import NamedTuple, Optional, Sequence, Tuple

from bert2bert import textfiles
from bert2bert.checkpoints import open_checkpoint
from bert2bert.checkpoints.seq2seq import ImportSettings, Seq2SeqCheckpoint
from bert2bert.config import Config, load_config
from bert2bert.errors import UsageError


class ImportResult(NamedTuple):
    run_dir: str
    settings: ImportSettings
    config: Config


def import_config(path: str, config_path: Optional[str] = None,
                  overrides: Sequence[str] = ()) -> Tuple[Config, ImportSettings]:
    """The run config of the whole model at `path`: `config_path` (the task, training and
    decoding settings; defaults otherwise) with the model taken from the checkpoint. Fails in
    one line, before anything is written, for anything but a whole encoder-decoder."""
    reader = open_checkpoint(path)
    if not isinstance(reader, Seq2SeqCheckpoint):
        raise UsageError(
            f"{path}: a single {reader.family} stack ({reader.description}); `import` takes a "
            "whole encoder-decoder (a released bertseq2seq module or a Hugging Face "
            "EncoderDecoderModel); warm-start a new model from this one with "
            "model.encoder_checkpoint / model.decoder_checkpoint instead")
    settings = reader.import_settings()
    path = textfiles.absolute(path)
    model = [f"model.variant={settings.variant}", f"model.encoder_checkpoint={path}",
             f"model.decoder_checkpoint={path}", f"model.output_head={settings.output_head}",
             "model.cross_attention_init=random",
             f"model.max_position_embeddings={reader.decoder_config.max_position_embeddings}"]
    if settings.variant == "bert2bert":
        model.append(f"model.share_embeddings={str(settings.share_embeddings).lower()}")
    return load_config(config_path, model + list(overrides)), settings


def import_model(path: str, output: str, config_path: Optional[str] = None,
                 overrides: Sequence[str] = (), overwrite: bool = False) -> ImportResult:
    """Writes a run directory at `output` (config.yaml, vocab/, warm_start.json, ckpt-0) for
    the whole model at `path`. An existing non-empty `output` is never overwritten unless
    `overwrite`."""
    config, settings = import_config(path, config_path, overrides)
    if textfiles.isdir(output) and textfiles.listdir(output) and not overwrite:
        raise FileExistsError(f"{output} is not empty; give a new --output (nothing is "
                              "overwritten)")
    from bert2bert.training.loop import train  # slow: TensorFlow, after the checks

    train(config, output, stop_after=0, save_initial=True, overwrite=overwrite)
    return ImportResult(output, settings, config)
