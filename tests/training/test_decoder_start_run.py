"""A run with `model.decoder_start: mask`, end to end: the training batches, evaluation and the
export's generator all start the decoder from [MASK], and the export writes what evaluation
wrote."""
import pytest
import tensorflow as tf
import yaml

from bert2bert.config import load_config

pytestmark = pytest.mark.slow


def test_a_mask_start_run_trains_evaluates_and_exports_with_mask(tiny_smoke, tmp_path):
    from bert2bert.evaluation import evaluate
    from bert2bert.export.generator import Generator
    from bert2bert.training import run_dir
    from bert2bert.training.loop import datasets_for, train

    config = load_config(tiny_smoke, [
        "model.decoder_start=mask", "train.train_steps=2", "train.checkpoint_every=2",
        "train.batch_size=4", "task.max_source_length=24", "task.max_target_length=12",
        "decode.max_length=12", "decode.beam_size=2"])
    model_dir = str(tmp_path / "run")
    train(config, model_dir, progress=False)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["model"]["decoder_start"] == "mask"

    trained = run_dir.restore_model(model_dir)
    special = trained.target_tokenizer.special_tokens
    assert special.mask_id is not None and special.mask_id != special.start_id
    assert trained.model.spec.start_id(special) == special.mask_id
    batch, labels = next(iter(datasets_for(trained.config, run_dir.load_vocabularies(model_dir),
                                           "train", 4, training=True,
                                           start_id=special.mask_id)))
    assert set(batch["decoder_token_ids"][:, 0].numpy()) == {special.mask_id}
    assert special.start_id not in set(batch["decoder_token_ids"].numpy().ravel())

    results = evaluate(model_dir, max_examples=8, progress=False)
    assert results["examples"] == 8
    evaluated = (tmp_path / "run" / "eval" / "predictions-2.txt").read_text().splitlines()
    sources = [line.split("\t")[0] for line in
               open(trained.config.task.data_files["validation"], encoding="utf-8")][:8]
    generator = Generator(trained.model, trained.source_tokenizer, trained.target_tokenizer,
                          24, 12, trained.config.decode)
    assert generator.start_id == generator.encoder.start_id == special.mask_id
    exported = [t.decode("utf-8") for t in
                generator.generate(tf.constant(sources))["outputs"].numpy()]
    assert exported == evaluated
