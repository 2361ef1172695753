"""Training on prepared shards: each worker reads its own shards (2 processes under
MultiWorkerMirroredStrategy give the losses of one process on the same global batches), and a
resumed run starts where it stopped without reading the batches before (counted)."""
import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import load_config
from bert2bert.data import run_input, sharded
from bert2bert.data.prepared import prepare_task
from tests.training.test_training_runs import (assert_same_weights, final_weights, free_ports,
                                               succeeded, worker_processes)

pytestmark = pytest.mark.slow

LENGTHS = ["task.max_source_length=24", "task.max_target_length=16"]
EXACT = ["model.dropout=0.0", "model.attention_dropout=0.0", "model.dtype_policy=float32"]


@pytest.fixture(scope="module")
def prepared(tiny_smoke, tmp_path_factory):
    """tiny_smoke's train split (96 pairs) in 4 shards of 24."""
    output = str(tmp_path_factory.mktemp("sharded") / "prepared")
    prepare_task(load_config(tiny_smoke, LENGTHS), output, ["train"], shards=4, progress=False)
    return output


def overrides(prepared_dir, *extra):
    return LENGTHS + EXACT + ["task.file_format=prepared", f"task.data_dir={prepared_dir}",
                              *extra]


def test_input_pipelines_read_disjoint_shards_that_make_the_whole(tiny_smoke, prepared):
    """What each InputContext gets, without training: 2 pipelines split the shards and, over
    an epoch, hand out every example once; per-replica batches are half the global one."""
    from bert2bert.data.manifest import read_manifest

    settings = sharded.ReadSettings(prepared, "train", 8, (0, 0), shuffle_buffer=10, seed=5)
    reader = sharded.ShardedInput(settings, read_manifest(prepared))
    contexts = [tf.distribute.InputContext(2, k, 2) for k in range(2)]
    files = [reader.shards_of(c)[0] for c in contexts]
    assert not set(files[0]) & set(files[1]) and len(files[0]) == len(files[1]) == 2
    assert sorted(files[0] + files[1]) == sorted(
        os.path.join(prepared, f"train-0000{i}-of-00004.tfrecord") for i in range(4))

    def examples(dataset, batches):
        rows = [tuple(row) for _, labels in dataset.take(batches) for row in labels.numpy()]
        return sorted(rows)

    halves = [examples(reader.pipeline(c), 12) for c in contexts]  # 12 x 4 = one epoch each
    single = examples(reader.pipeline(tf.distribute.InputContext(1, 0, 1)), 12)  # 12 x 8
    assert len(halves[0]) == len(halves[1]) == 48 and sorted(halves[0] + halves[1]) == single
    assert next(iter(reader.pipeline(contexts[0])))[1].shape == (4, 16)
    # the global batches of the two pipelines are their batches side by side
    first = [next(iter(reader.pipeline(c)))[1].numpy() for c in contexts]
    np.testing.assert_array_equal(next(iter(reader.global_batches(2)))[1].numpy(),
                                  np.concatenate(first))


WORKER_SCRIPT = r"""
import json, sys
import tensorflow as tf
from bert2bert.config import load_config
from bert2bert.data import sharded
from bert2bert.training.loop import train

opened = []
real = sharded.shard_records

def logged(path, skip):  # records each shard file as the pipeline opens it
    done = tf.py_function(lambda p: opened.append(p.numpy().decode()) or 0, [path], tf.int32)
    with tf.control_dependencies([done]):
        return real(tf.identity(path), skip)

sharded.shard_records = logged
result = train(load_config(sys.argv[1], json.loads(sys.argv[2])), sys.argv[3], "multi_worker",
               progress=False)
print("RESULT " + json.dumps({"losses": result.losses, "opened": sorted(set(opened))}))
"""


def test_two_workers_read_their_own_shards_and_match_one_process(tiny_smoke, prepared, tmp_path,
                                                               monkeypatch):
    """2 processes on 127.0.0.1 (TF_CONFIG); the one-process reference runs meanwhile."""
    sets = overrides(prepared, "train.train_steps=4", "train.checkpoint_every=4",
                     "train.batch_size=4", "train.shuffle_buffer=64", "train.log_every=2")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    model_dir = str(tmp_path / "multi")
    argv = [sys.executable, "-c", WORKER_SCRIPT, tiny_smoke, json.dumps(sets), model_dir]
    with worker_processes(argv, cluster) as procs:
        single = _one_process_on_both_pipelines(load_config(tiny_smoke, sets),
                                                str(tmp_path / "single"), monkeypatch)
        outputs = succeeded(procs, timeout=300)
    results = [json.loads(out.split("RESULT ", 1)[1]) for out in outputs]
    shard = [os.path.join(prepared, f"train-0000{i}-of-00004.tfrecord") for i in range(4)]
    # worker k opened shards k and k + 2 (its window of 64 covers both), never the others
    assert results[0]["opened"] == [shard[0], shard[2]]
    assert results[1]["opened"] == [shard[1], shard[3]]
    assert results[0]["losses"] == results[1]["losses"]  # one all-reduced loss
    assert len(single.losses) == 4
    np.testing.assert_allclose(results[0]["losses"], single.losses, rtol=1e-5, atol=0)
    assert_same_weights(*(_model_weights(d) for d in (model_dir, str(tmp_path / "single"))),
                        atol=1e-5)


def _one_process_on_both_pipelines(config, model_dir, monkeypatch):
    """A default-strategy run whose global batches are both pipelines' batches side by side
    (`ShardedInput.global_batches(2)`): what the 2 workers read together."""
    from bert2bert.training.loop import train

    def both_pipelines(self, context):
        self._count, self._per_update = 1, self.reader.settings.global_batch_size
        return self.reader.global_batches(2, self._start)

    monkeypatch.setattr(run_input.PreparedInput, "_dataset", both_pipelines)
    return train(config, model_dir, progress=False)


def _model_weights(model_dir):
    """`final_weights` without the input position (each run reads its own way)."""
    return {k: v for k, v in final_weights(model_dir).items() if not k.startswith("input/")}


def test_resume_starts_where_it_stopped_without_reading_the_first_batches(
        tiny_smoke, prepared, tmp_path, monkeypatch):
    """k = 300 updates of 2 examples (6 epochs and a quarter of the 96), then 10 more."""
    from bert2bert.training.loop import train

    parsed = []
    real = sharded.parse

    def counted(record):  # counts the records parsed
        done = tf.py_function(lambda: parsed.append(1) or 0, [], tf.int32)
        with tf.control_dependencies([done]):
            return real(tf.identity(record))

    monkeypatch.setattr(sharded, "parse", counted)
    k, total, batch = 300, 310, 2
    sets = overrides(prepared, f"train.train_steps={total}", "train.checkpoint_every=100",
                     "train.steps_per_loop=50", f"train.batch_size={batch}",
                     "train.shuffle_buffer=40", "train.log_every=100",
                     "optimizer.warmup_steps=10")
    config = load_config(tiny_smoke, sets)
    straight = train(config, str(tmp_path / "straight"), progress=False)
    read_straight = len(parsed)
    assert read_straight >= total * batch

    resumed_dir = str(tmp_path / "resumed")
    first = train(config, resumed_dir, progress=False, stop_after=k)
    assert first.final_step == k
    reader = tf.train.load_checkpoint(os.path.join(resumed_dir, f"ckpt-{k}"))
    assert reader.get_tensor("input/examples/.ATTRIBUTES/VARIABLE_VALUE") == k * batch
    assert reader.get_tensor("input/pipelines/.ATTRIBUTES/VARIABLE_VALUE") == 1
    del parsed[:]
    second = train(config, resumed_dir, progress=False)
    read_resumed = len(parsed)
    assert (second.start_step, second.final_step) == (k, total)
    # the 10 updates' 20 examples and read-ahead; never again the first k batches (600)
    assert (total - k) * batch <= read_resumed < 100, read_resumed
    np.testing.assert_allclose(second.losses, straight.losses[k:], rtol=1e-6, atol=0)
    assert_same_weights(final_weights(str(tmp_path / "straight")), final_weights(resumed_dir),
                        atol=1e-6)
