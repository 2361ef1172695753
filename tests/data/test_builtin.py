"""The built-in fusion / split data: real sentences from Python's help texts, fixed rules."""
import re

import pytest

from bert2bert.config import TaskConfig
from bert2bert.data import builtin, load_examples
from bert2bert.data.builtin import (SEPARATOR, builtin_examples, builtin_fingerprint, fuse,
                                    write_builtin_task_files, write_builtin_tsv)


def _normalized_help_text():
    from pydoc_data.topics import topics
    text = " ".join(topics[name] for name in sorted(topics))
    for old, new in builtin._QUOTES.items():
        text = text.replace(old, new)
    return re.sub(r"\s+", " ", text.replace("*", ""))


def test_deterministic_across_recomputation():
    before = {(k, s): builtin_examples(k, s) for k in builtin.KINDS for s in builtin.SPLITS}
    prints = builtin_fingerprint("fusion", "train")
    builtin._corpus.cache_clear()
    builtin._all_examples.cache_clear()
    after = {(k, s): builtin_examples(k, s) for k in builtin.KINDS for s in builtin.SPLITS}
    assert before == after
    assert builtin_fingerprint("fusion", "train") == prints
    assert builtin_examples("fusion", "train", limit=5) == before[("fusion", "train")][:5]


def test_sizes_and_both_kinds_mirror_each_other():
    train, val = builtin_examples("fusion", "train"), builtin_examples("fusion", "validation")
    assert len(train) >= 900 and len(val) >= 50
    split_train = builtin_examples("split", "train")
    assert len(split_train) == len(train)
    for (src, tgt), (s_src, s_tgt) in zip(train, split_train):
        assert s_src == tgt  # split's source is fusion's target
        assert s_tgt.replace(SEPARATOR, " ") == src  # and its target the two sentences
    assert len({s for s, _ in train}) == len(train)  # no duplicate sources


def test_the_sentences_are_real_text_from_the_help_topics():
    text = _normalized_help_text()
    verbatim_pairs = 0
    for split in builtin.SPLITS:
        for fused, two in builtin_examples("split", split):
            first, second = two.split(SEPARATOR)
            if first in text and second in text:
                verbatim_pairs += 1  # two consecutive sentences of the help text
            else:
                assert fused in text, fused  # else the fused side is the original sentence
    assert verbatim_pairs > 0.9 * len(builtin_examples("split", "train"))
    words = " ".join(t for _, t in builtin_examples("fusion", "train")).split()
    alphabetic = sum(w.strip(".,;:()\"'").isalpha() for w in words) / len(words)
    assert alphabetic > 0.8  # prose, not ids or code


def test_pairs_follow_the_fusion_rules():
    train = builtin_examples("fusion", "train")
    assert any(", but " in t for _, t in train) and any(", and " in t for _, t in train)
    for source, target in train:
        assert target.endswith(".") and "\t" not in source + target and "\n" not in source + target
        assert len(target.split()) <= len(source.split()) + 3
    assert fuse("Tuples are immutable.", "However, lists can be changed.") == \
        "Tuples are immutable, but lists can be changed."
    assert fuse("One is used.", "Python picks it.", frozenset({"Python"})) == \
        "One is used, and Python picks it."
    assert fuse("One is used.", "For example, the key is kept.") == \
        "One is used; for example, the key is kept."


def test_validation_shares_no_sentence_with_train():
    def sentences(split):
        out = set()
        for source, target in builtin_examples("split", split):
            out.update(target.split(SEPARATOR))
            out.add(source)
        return out
    assert not sentences("train") & sentences("validation")


def test_tsv_writer_and_round_trip(tmp_path):
    path = str(tmp_path / "x.tsv")
    assert write_builtin_tsv(path, "split", "validation") == \
        len(builtin_examples("split", "validation"))
    with open(path, encoding="utf-8") as f:
        assert f.readline() == "source\ttarget\n"
    files = write_builtin_task_files(str(tmp_path / "task"), "fusion")
    task = TaskConfig(name="builtin", file_format="tsv", data_files=files)
    got = [(e["source"].numpy().decode(), e["target"].numpy().decode())
           for e in load_examples(task, "train")]
    assert got == builtin_examples("fusion", "train")


def test_unknown_kind_or_split():
    with pytest.raises(ValueError, match="unknown built-in data kind 'summary'"):
        builtin_examples("summary")
    with pytest.raises(ValueError, match="unknown built-in data split 'tune'"):
        builtin_examples("fusion", "tune")
