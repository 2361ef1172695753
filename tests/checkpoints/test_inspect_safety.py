"""`inspect` (and the reading behind it) never executes a SavedModel it is pointed at.

The trojan below is a TF Hub BERT (the real fixture's variables, vocabulary and
`do_lower_case`) that also carries a resource whose initializer writes a file: the
loader runs it on `tf.saved_model.load`, as it would run any graph code shipped in a
download. Reading the folder must not.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.checkpoints import open_checkpoint
from bert2bert.cli import vocabulary_info

# tfhub_bert: tf-models-official, a subprocess per session; one worker builds the trojan.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("inspect_safety")]


class _WritesOnLoad(tf.saved_model.experimental.TrackableResource):
    """A resource whose initializer, run by the SavedModel loader, writes `target`."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def _create_resource(self):
        return tf.raw_ops.VarHandleOp(dtype=tf.int32, shape=[])

    def _initialize(self):
        tf.io.write_file(self.target, "the SavedModel's graph ran")


@pytest.fixture(scope="module")
def trojan(tfhub_bert, tmp_path_factory):
    """(SavedModel dir, the file its graph writes when executed)."""
    root_dir = tmp_path_factory.mktemp("trojan")
    real = open_checkpoint(tfhub_bert)
    root = tf.Module()
    root.encoder_weights = [tf.Variable(real.read(n), name=n) for n in real.variables()]
    root.do_lower_case = tf.Variable(False)  # the fixture's vocab is uncased: read, not guessed
    root.vocab_file = tf.saved_model.Asset(real.vocab_files["vocab_txt"])
    root.payload = _WritesOnLoad(str(root_dir / "written_by_the_graph.txt"))
    path = str(root_dir / "bert_en_uncased" / "4")
    tf.saved_model.save(root, path)
    return path, root.payload.target


@pytest.fixture
def target(trojan):
    target = trojan[1]
    if os.path.exists(target):
        os.remove(target)
    yield target
    if os.path.exists(target):
        os.remove(target)


def test_control_loading_the_trojan_runs_its_graph(trojan, target):
    tf.saved_model.load(trojan[0])
    assert os.path.exists(target)


def test_reading_the_trojan_does_not_run_it(trojan, target, tfhub_bert):
    reader = open_checkpoint(trojan[0])
    info = reader.summary()
    vocab = vocabulary_info(reader)
    real = open_checkpoint(tfhub_bert)
    for name in real.canonical():
        np.testing.assert_array_equal(reader.tensor(name), real.tensor(name), err_msg=name)
    assert not os.path.exists(target)
    assert info["format"] == "tfhub_bert"
    assert info["config"] == real.summary()["config"]
    assert (info["config"]["num_layers"], info["config"]["hidden_size"],
            info["config"]["num_heads"], info["config"]["vocab_size"]) == (2, 32, 4, 99)
    assert info["lowercase"] is False  # the root variable's value, read from the checkpoint
    assert info["vocab_files"]["vocab_txt"] == os.path.join(trojan[0], "assets", "vocab.txt")
    assert vocab["size"] == 99 and "problem" not in vocab


def test_cli_inspect_does_not_run_it(trojan, target):
    exe = os.path.join(os.path.dirname(sys.executable), "bert2bert")
    out = subprocess.run([exe, "inspect", trojan[0], "--json"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert not os.path.exists(target)
    info = json.loads(out.stdout)
    assert info["format"] == "tfhub_bert" and info["lowercase"] is False
    config = info["config"]
    assert (config["num_layers"], config["hidden_size"], config["num_heads"],
            config["vocab_size"]) == (2, 32, 4, 99)
    assert info["vocabulary"]["size"] == 99
