"""The WikiSplit and DiscoFuse TFDS builders, and the one-line error when data is unavailable."""
import os
import time
import zipfile

import pytest

from bert2bert.config import TaskConfig
from bert2bert.data import DataFormatError, DataUnavailableError, builder_for, load_examples
from bert2bert.data.tfds import network as tfds_builders
from tests.data.common import no_network, write  # noqa: F401 - no_network is a fixture
from tests.helpers import shared_path

WIKISPLIT = TaskConfig(name="wikisplit", tfds_name="wikisplit", file_format="tfds",
                       source_key="complex_sentence", target_key="simple_sentence")
DISCOFUSE = TaskConfig(name="discofuse", tfds_name="discofuse", file_format="tfds",
                       source_key="incoherent_first_sentence+incoherent_second_sentence",
                       target_key="coherent_first_sentence+coherent_second_sentence")


def raw_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def test_tfds_has_no_builders_of_our_names():
    import tensorflow_datasets as tfds
    from bert2bert.data.tfds import DiscoFuse, WikiSplit
    # TFDS 4.9.10 has neither, so ours are registered under the names the configs use.
    assert (WikiSplit.name, DiscoFuse.name) == ("wikisplit", "discofuse")
    assert tfds.builder_cls("wikisplit") is WikiSplit
    assert tfds.builder_cls("discofuse") is DiscoFuse


def test_wikisplit_acceptance_from_shared_manual_dir(tmp_path, no_network):
    manual = os.path.dirname(shared_path("data", "wikisplit", "validation.tsv"))
    data_dir = str(tmp_path / "tfds")
    files_before = sorted(os.listdir(manual))
    examples = [(ex["source"].numpy().decode("utf-8"), ex["target"].numpy().decode("utf-8"))
                for ex in load_examples(WIKISPLIT, "validation", data_dir=data_dir,
                                        manual_dir=manual)]
    raw = raw_lines(os.path.join(manual, "validation.tsv"))
    assert len(examples) == 5000 == len(raw)
    # the file's order is kept, columns go to the right features, the separator is kept
    for i in (0, 1, 2, 1234, 4999):
        assert examples[i] == (raw[i][0], raw[i][1])
    assert all(" <::::> " in target for _, target in examples[:100])
    assert sorted(examples) == sorted((a, b) for a, b in raw)
    # only the splits whose files are in the folder were prepared, with nothing downloaded
    builder = builder_for("wikisplit", data_dir=data_dir)
    assert sorted(builder.info.splits) == ["tune", "validation"]
    assert builder.info.splits["tune"].num_examples == 5000
    assert not no_network  # never tried to connect
    assert os.path.isdir(os.path.join(data_dir, "wikisplit", "1.0.0"))
    assert sorted(os.listdir(manual)) == files_before  # nothing written into the shared folder


def test_wikisplit_prepares_a_split_whose_file_arrives_later(tmp_path, no_network):
    manual = tmp_path / "manual"
    write(manual / "validation.tsv", "A and B .\tA . <::::> B .\nC or D .\tC . <::::> D .\n")
    data_dir = str(tmp_path / "tfds")
    assert len(list(load_examples(WIKISPLIT, "validation", data_dir, str(manual)))) == 2
    assert len(list(load_examples(WIKISPLIT, "validation[1:]", data_dir, str(manual)))) == 1
    with pytest.raises(DataUnavailableError) as e:
        load_examples(WIKISPLIT, "test", data_dir, str(manual))
    msg = str(e.value)
    assert "wiki-split/raw/master/test.tsv" in msg and str(manual) in msg and "\n" not in msg
    write(manual / "test.tsv", "E but F .\tE . <::::> However F .\n")
    got = [ex["target"].numpy() for ex in load_examples(WIKISPLIT, "test", data_dir, str(manual))]
    assert got == [b"E . <::::> However F ."]
    assert sorted(builder_for("wikisplit", data_dir).info.splits) == ["test", "validation"]
    assert not no_network


def test_wikisplit_train_from_the_official_zip(tmp_path, no_network):
    manual = tmp_path / "manual"
    os.makedirs(manual)
    with zipfile.ZipFile(manual / "train.tsv.zip", "w") as z:
        z.writestr("train.tsv", "A and B .\tA . <::::> B .\n")
    got = [(e["source"].numpy(), e["target"].numpy())
           for e in load_examples(WIKISPLIT, "train", str(tmp_path / "tfds"), str(manual))]
    assert got == [(b"A and B .", b"A . <::::> B .")]


def test_wikisplit_bad_line_names_file_and_line(tmp_path):
    manual = tmp_path / "manual"
    write(manual / "tune.tsv", "a\tb <::::> c\nonly one column\n")
    with pytest.raises(DataFormatError, match=r"tune\.tsv:2: expected 2 tab-separated"):
        load_examples(WIKISPLIT, "tune", str(tmp_path / "tfds"), str(manual))


def test_offline_error_for_a_tfds_dataset_is_fast_and_says_what_to_do(tmp_path, no_network):
    task = TaskConfig(name="gigaword", tfds_name="gigaword", file_format="tfds",
                      source_key="document", target_key="summary")
    data_dir = str(tmp_path / "tfds")
    start = time.monotonic()
    with pytest.raises(DataUnavailableError) as e:
        load_examples(task, "train", data_dir=data_dir)
    assert time.monotonic() - start < 15
    msg = str(e.value)
    assert "\n" not in msg
    assert "'gigaword'" in msg and "drive.google.com" in msg
    assert "https://drive.google.com/uc?export=download&id=1USoQ8lJgN8kAWnUnRrupMGrPMLlDVqlV" in msg
    assert f"tfds build gigaword --data_dir DIR" in msg and data_dir in msg
    assert no_network  # it checked the host (and was refused) instead of hanging in a download
    assert not os.path.exists(os.path.join(data_dir, "gigaword", "1.2.0", "dataset_info.json"))


def test_offline_error_for_wikisplit_without_files_names_url_and_manual_dir(tmp_path, no_network):
    with pytest.raises(DataUnavailableError) as e:
        load_examples(WIKISPLIT, "train", data_dir=str(tmp_path))
    msg = str(e.value)
    assert "https://github.com/google-research-datasets/wiki-split/raw/master/train.tsv.zip" in msg
    assert os.path.join(str(tmp_path), "downloads", "manual") in msg
    assert "github.com cannot be reached" in msg and "\n" not in msg


def test_no_download_when_switched_off(tmp_path):
    from bert2bert.data import load_tfds
    with pytest.raises(DataUnavailableError, match="downloads are switched off"):
        load_tfds("xsum", "test", "document", "summary", data_dir=str(tmp_path),
                  allow_download=False)


def test_host_probe_is_bounded(no_network):
    start = time.monotonic()
    assert not tfds_builders.host_reachable("example.invalid", timeout=0.5)
    assert time.monotonic() - start < 2


# ---------------------------------------------------------------- DiscoFuse

HEADER = ("coherent_first_sentence\tcoherent_second_sentence\tincoherent_first_sentence\t"
          "incoherent_second_sentence\tdiscourse_type\tconnective_string\t"
          "has_coref_type_pronoun\thas_coref_type_nominal\n")
ROWS = [
    ("Rather than returning , Ingram stayed .", "However , he was declared bankrupt .",
     "Rather than returning , Ingram stayed .", "Ingram was declared bankrupt .",
     "PAIR_CONN_ANAPHORA", "however ,", "1.0", "0.0"),
    ("Melvyn was signed to play Sam , but the role went to Walter .", "",
     "Melvyn was signed to play Sam .", "The role went to Walter .",
     "SINGLE_S_COORD", ", but", "0.0", "0.0"),
]


def discofuse_zip(folder, part="wikipedia", files=("dev_balanced.tsv", "test_balanced.tsv")):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"discofuse_v1_{part}.zip")
    with zipfile.ZipFile(path, "w") as z:
        for name in files:
            z.writestr(f"discofuse_v1/{part}/{name}",
                       HEADER + "".join("\t".join(r) + "\n" for r in ROWS))
    return path


def test_discofuse_from_the_official_zip_in_manual_dir(tmp_path, no_network):
    manual = str(tmp_path / "manual")
    discofuse_zip(manual)
    data_dir = str(tmp_path / "tfds")
    got = [(ex["source"].numpy().decode(), ex["target"].numpy().decode())
           for ex in load_examples(DISCOFUSE, "dev", data_dir=data_dir, manual_dir=manual)]
    assert got == [
        ("Rather than returning , Ingram stayed . Ingram was declared bankrupt .",
         "Rather than returning , Ingram stayed . However , he was declared bankrupt ."),
        ("Melvyn was signed to play Sam . The role went to Walter .",
         "Melvyn was signed to play Sam , but the role went to Walter ."),  # empty field skipped
    ]
    builder = builder_for("discofuse", data_dir=data_dir)
    assert builder.builder_config.name == "wikipedia_balanced"
    assert sorted(builder.info.splits) == ["test", "validation"]
    ex = next(iter(builder.as_dataset(split="validation")))
    assert float(ex["has_coref_type_pronoun"]) == 1.0
    assert ex["discourse_type"].numpy() == b"PAIR_CONN_ANAPHORA"
    assert not no_network


def test_discofuse_other_config_and_unzipped_tree(tmp_path):
    manual = tmp_path / "manual"
    write(manual / "discofuse_v1" / "sports" / "train.tsv",
          HEADER + "\t".join(ROWS[0]) + "\n")
    task = TaskConfig(**{**DISCOFUSE.__dict__, "tfds_name": "discofuse/sports"})
    got = list(load_examples(task, "train", data_dir=str(tmp_path / "tfds"),
                             manual_dir=str(manual)))
    assert len(got) == 1


def test_discofuse_bad_header_names_the_file(tmp_path):
    manual = tmp_path / "manual"
    write(manual / "discofuse_v1" / "wikipedia" / "test_balanced.tsv",
          "coherent_first_sentence\tincoherent_first_sentence\nA\tB\n")
    with pytest.raises(DataFormatError,
                       match=r"test_balanced\.tsv:1: the header lacks column\(s\) "
                             r"\['coherent_second_sentence'"):
        load_examples(DISCOFUSE, "test", str(tmp_path / "tfds"), str(manual))


def test_unknown_split_and_feature(tmp_path):
    manual = str(tmp_path / "manual")
    discofuse_zip(manual)
    with pytest.raises(ValueError, match=r"discofuse has no split 'tune'; splits: "
                                         r"\['test', 'train', 'validation'\]"):
        load_examples(DISCOFUSE, "tune", str(tmp_path / "tfds"), manual)
    task = TaskConfig(**{**DISCOFUSE.__dict__, "target_key": "coherent_sentence"})
    with pytest.raises(ValueError, match=r"target_key 'coherent_sentence' is not a feature"):
        load_examples(task, "test", str(tmp_path / "tfds"), manual)
    task = TaskConfig(**{**DISCOFUSE.__dict__, "target_key": "has_coref_type_nominal"})
    with pytest.raises(ValueError, match=r"is not a text feature \(float32"):
        load_examples(task, "test", str(tmp_path / "tfds"), manual)


def test_task_data_dir_and_manual_dir_are_the_defaults(tmp_path, no_network):
    import types
    manual = tmp_path / "manual"
    write(manual / "validation.tsv", "A and B .\tA . <::::> B .\n")
    task = types.SimpleNamespace(**{**WIKISPLIT.__dict__, "data_dir": str(tmp_path / "tfds"),
                                    "manual_dir": str(manual)})
    assert len(list(load_examples(task, "validation"))) == 1
    assert os.path.isdir(tmp_path / "tfds" / "wikisplit" / "1.0.0")
