"""`bert2bert prepare`: shards of exactly what training's featurize makes, a manifest that counts
them and fingerprints the run's vocabularies, a directory written once, and a run that does
not match it stopped in one line naming the field."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.cli import main
from bert2bert.config import load_config
from bert2bert.data.features import featurize
from bert2bert.data.manifest import read_manifest, sha256_of
from bert2bert.data.prepared import prepare_task, run_vocabularies
from bert2bert.data.sharded import parse
from bert2bert.data.tasks import load_examples

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prepare")]  # one worker prepares

LENGTHS = ["task.max_source_length=24", "task.max_target_length=16"]


@pytest.fixture(scope="module")
def prepared(tiny_smoke, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("prepare") / "out")
    config = load_config(tiny_smoke, LENGTHS)
    return config, prepare_task(config, output, ["train", "validation"], shards=3,
                                progress=False)


def _ids(inputs, labels):
    return (inputs["encoder_token_ids"].tolist(), inputs["decoder_token_ids"].tolist(),
            labels.tolist())


def test_shards_hold_what_featurize_makes(prepared):
    config, done = prepared
    vocab, start_id, _ = run_vocabularies(config)
    task = config.task
    for split, size in (("train", 96), ("validation", 24)):
        expected = [_ids(*ex) for ex in featurize(
            load_examples(task, split), vocab.source.tokenizer(), vocab.target.tokenizer(),
            task.max_source_length, task.max_target_length, start_id=start_id
        ).as_numpy_iterator()]
        record = done.manifest.splits[split]
        shards = [[_ids(*ex) for ex in tf.data.TFRecordDataset(
            os.path.join(done.directory, name)).map(parse).as_numpy_iterator()]
            for name in record.files]
        assert [len(s) for s in shards] == record.counts == [size // 3] * 3
        assert record.total == size == len(expected)
        # example i is in shard i % 3, at i // 3
        assert [shards[i % 3][i // 3] for i in range(size)] == expected
        masks = next(tf.data.TFRecordDataset(os.path.join(done.directory, record.files[0]))
                     .map(parse).as_numpy_iterator())[0]
        assert masks["encoder_padding_mask"].tolist() == [1] * len(
            masks["encoder_token_ids"])


def test_the_manifest_fingerprints_the_run(prepared):
    config, done = prepared
    manifest = read_manifest(done.directory)
    assert manifest == done.manifest
    vocab_file = dict(run_vocabularies(config)[0].target.files)["vocab_txt"]
    assert manifest.target_vocab.sha256 == {"vocab_txt": sha256_of(vocab_file)}
    assert manifest.target_vocab.lowercase is True and manifest.target_vocab.family == "bert"
    assert (manifest.max_source_length, manifest.max_target_length) == (24, 16)
    assert (manifest.start_id, manifest.decoder_start, manifest.format_version) == (101, "start", 1)
    assert manifest.text_task["data_files"] == config.task.data_files
    raw = json.load(open(os.path.join(done.directory, "manifest.json")))
    assert raw["splits"]["train"]["counts"] == [32, 32, 32]
    assert sorted(os.listdir(done.directory)) == sorted(
        ["manifest.json"] + [f"{s}-0000{i}-of-00003.tfrecord" for s in ("train", "validation")
                             for i in range(3)])  # no temporary files left


def test_a_second_prepare_refuses_in_one_line(prepared, tiny_smoke, capsys):
    _, done = prepared
    before = {n: os.stat(os.path.join(done.directory, n)).st_mtime_ns
              for n in os.listdir(done.directory)}
    assert main(["prepare", "--config", tiny_smoke, "--output", done.directory]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--output {done.directory}: not an empty directory" in err
    assert before == {n: os.stat(os.path.join(done.directory, n)).st_mtime_ns
                      for n in os.listdir(done.directory)}


def test_a_run_that_does_not_match_stops_naming_the_field(prepared, tmp_path):
    """Checked before training: a changed length, start token or vocabulary file."""
    from bert2bert.data.errors import DataError
    from bert2bert.data.run_input import InputPosition, PreparedInput

    config, done = prepared
    use = ["task.file_format=prepared", f"task.data_dir={done.directory}"]
    vocab, start_id, _ = run_vocabularies(config)
    strategy = tf.distribute.get_strategy()
    PreparedInput(_with(config, use), vocab, start_id, strategy, InputPosition())  # fine
    with pytest.raises(DataError, match=r"manifest.json: prepared with max_target_length=16 "
                                        r"but this run has 12; run `bert2bert prepare` again"):
        PreparedInput(_with(config, use + ["task.max_target_length=12"]), vocab, start_id,
                      strategy, InputPosition())
    with pytest.raises(DataError, match="prepared with start_id=101 but this run has 103"):
        PreparedInput(_with(config, use), vocab, 103, strategy, InputPosition())
    other = tmp_path / "vocab.txt"
    other.write_text(open(dict(vocab.target.files)["vocab_txt"]).read() + "extra\n")
    changed = vocab._replace(target=type(vocab.target)("bert", {"vocab_txt": str(other)}, True))
    with pytest.raises(DataError, match=r"prepared with target_vocab.sha256="):
        PreparedInput(_with(config, use), changed, start_id, strategy, InputPosition())


def _with(config, overrides):
    import dataclasses

    from bert2bert.config import parse_override

    task = dataclasses.asdict(config.task)
    for text in overrides:
        key, value = next(iter(parse_override(text)["task"].items()))
        task[key] = value
    return dataclasses.replace(config, task=type(config.task)(**task))


def test_unknown_split_and_missing_manifest_are_one_line(prepared, tmp_path):
    from bert2bert.data.errors import DataError
    from bert2bert.data.manifest import read_manifest

    _, done = prepared
    with pytest.raises(DataError, match=r"manifest.json: no split 'test'; prepared splits: "
                                        r"\['train', 'validation'\]"):
        read_manifest(done.directory).split("test", os.path.join(done.directory,
                                                                   "manifest.json"))
    with pytest.raises(DataError, match=r"manifest.json: missing; is .* a `bert2bert prepare`"):
        read_manifest(str(tmp_path))
    np.testing.assert_equal(read_manifest(done.directory).splits["validation"].total, 24)


def test_a_prepared_task_gives_its_text_from_where_it_was_prepared(prepared):
    """Evaluation scores strings: a prepared task reads them from the manifest's text task."""
    from bert2bert.data.preflight import check_task

    config, done = prepared
    task = _with(config, ["task.file_format=prepared", f"task.data_dir={done.directory}",
                          "task.data_files={}"]).task
    check_task(task, ["train", "validation"])
    text = [ex["target"] for ex in load_examples(task, "validation").as_numpy_iterator()]
    assert text == [ex["target"] for ex in load_examples(config.task, "validation")
                    .as_numpy_iterator()] and len(text) == 24
