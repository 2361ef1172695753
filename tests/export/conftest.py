"""A tiny trained-looking run directory and its export, shared by the export tests."""
import os

import keras
import pytest
import tensorflow as tf

from bert2bert.config import Config, DecodeConfig, TaskConfig
from bert2bert.checkpoints.vocabulary import Vocabularies
from bert2bert.models import build_model
from bert2bert.text import Vocabulary
from bert2bert.training import run_dir
from tests.fixtures.pytest_plugin import built_once
from tests.fixtures.vocab import write_bert_vocab
from tests.helpers import TINY_VOCAB, tiny_config

MAX_SOURCE, MAX_TARGET, BEAM = 24, 10, 3


def make_run(model_dir, variant="bert2bert", seed=0):
    """A run directory (config, vocab, one checkpoint) of a random tiny model with a real
    WordPiece vocabulary file, as `bert2bert train` would leave it."""
    os.makedirs(model_dir, exist_ok=True)
    vocab = os.path.join(os.path.dirname(model_dir), f"vocab-{os.path.basename(model_dir)}.txt")
    write_bert_vocab(vocab, TINY_VOCAB["bert"])
    config = Config(model=tiny_config(variant),
                    task=TaskConfig(max_source_length=MAX_SOURCE, max_target_length=MAX_TARGET),
                    decode=DecodeConfig(beam_size=BEAM, alpha=0.6))
    keras.utils.set_random_seed(seed)
    model = build_model(config.model)
    run_dir.save_config(model_dir, config)
    vocabulary = Vocabulary("bert", {"vocab_txt": vocab}, lowercase=True)
    run_dir.save_vocabularies(model_dir, Vocabularies(vocabulary, vocabulary))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), model_dir, 2,
                                         checkpoint_name="ckpt")
    manager.save(checkpoint_number=7)
    return model_dir


# Once per run, also under xdist (`built_once`): the export and the run it came from must be
# the same files in every worker (tests compare the export with the run's in-process decoding).
@pytest.fixture(scope="session")
def bert_run(tmp_path_factory):
    return built_once(tmp_path_factory, "runs",
                      lambda folder: make_run(os.path.join(folder, "bert2bert")))


@pytest.fixture(scope="session")
def bert_export(bert_run, tmp_path_factory):
    from bert2bert.export import export_run

    return built_once(tmp_path_factory, "exports",
                      lambda folder: export_run(bert_run, os.path.join(folder, "bert2bert")))
