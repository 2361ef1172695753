"""load_examples on local files: TSV with and without header, JSONL, key joining, clear errors."""
import gzip
import json

import pytest

from bert2bert.config import TaskConfig
from bert2bert.data import DataFormatError, key_fields, load_examples
from tests.data.common import write


def task_for(path, fmt="tsv", source_key="source", target_key="target", split="train"):
    return TaskConfig(name="local", file_format=fmt, data_files={split: str(path)},
                      source_key=source_key, target_key=target_key)


def read_all(task, split="train"):
    return [(ex["source"].numpy().decode(), ex["target"].numpy().decode())
            for ex in load_examples(task, split)]


# ---------------------------------------------------------------- TSV


def test_tsv_with_header_selects_named_columns(tmp_path):
    path = write(tmp_path / "d.tsv", "id\tcomplex\tsimple\n"
                                     "1\tA and B .\tA . <::::> B .\n"
                                     "2\tC , which D .\tC . <::::> It D .\n")
    got = read_all(task_for(path, source_key="complex", target_key="simple"))
    assert got == [("A and B .", "A . <::::> B ."), ("C , which D .", "C . <::::> It D .")]


def test_tsv_without_header_uses_column_numbers(tmp_path):
    path = write(tmp_path / "d.tsv", "x0\ty0\tz0\nx1\ty1\tz1\n")
    assert read_all(task_for(path, source_key="0", target_key="2")) == \
        [("x0", "z0"), ("x1", "z1")]
    # the first line is data, not a header
    assert read_all(task_for(path, source_key="1", target_key="0"))[0] == ("y0", "x0")


def test_tsv_joins_plus_keys_skipping_empty_fields(tmp_path):
    path = write(tmp_path / "d.tsv", "a\tb\tt\nFirst one .\tSecond one .\tT1\nOnly .\t\tT2\n")
    got = read_all(task_for(path, source_key="a+b", target_key="t"))
    assert got == [("First one . Second one .", "T1"), ("Only .", "T2")]


def test_tsv_crlf_blank_lines_and_gzip(tmp_path):
    text = "s\tt\r\n\r\nhello\tworld\r\n\nfoo\tbar"  # CRLF, blank lines, no final newline
    path = write(tmp_path / "d.tsv", text)
    assert read_all(task_for(path, source_key="s", target_key="t")) == \
        [("hello", "world"), ("foo", "bar")]
    gz = tmp_path / "d.tsv.gz"
    with gzip.open(gz, "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    assert read_all(task_for(gz, source_key="s", target_key="t")) == \
        [("hello", "world"), ("foo", "bar")]


def test_tsv_with_byte_order_mark(tmp_path):
    path = write(tmp_path / "d.tsv", "\ufeffs\tt\nx\ty\n")
    assert read_all(task_for(path, source_key="s", target_key="t")) == [("x", "y")]


def test_tsv_keeps_unicode_and_inner_spaces(tmp_path):
    path = write(tmp_path / "d.tsv", "s\tt\n  Grüße  aus Köln \t日本語\n")
    assert read_all(task_for(path, source_key="s", target_key="t")) == \
        [("  Grüße  aus Köln ", "日本語")]


def test_tsv_missing_header_column_names_file_and_column(tmp_path):
    path = write(tmp_path / "d.tsv", "complex\tsimple\na\tb\n")
    with pytest.raises(DataFormatError) as e:
        read_all(task_for(path, source_key="complex", target_key="simpel"))
    msg = str(e.value)
    assert "d.tsv:1" in msg and "'simpel'" in msg and "target_key" in msg and "simple" in msg
    assert "\n" not in msg


def test_tsv_wrong_field_count_names_line(tmp_path):
    path = write(tmp_path / "d.tsv", "s\tt\na\tb\nc\td\nno tab here\ne\tf\n")
    with pytest.raises(DataFormatError, match=r"d\.tsv:4: expected 2 tab-separated fields "
                                              r"\(as the header\), found 1"):
        read_all(task_for(path, source_key="s", target_key="t"))


def test_tsv_headerless_ragged_row_and_missing_column(tmp_path):
    path = write(tmp_path / "d.tsv", "a\tb\nc\td\te\n")
    with pytest.raises(DataFormatError, match=r"d\.tsv:2: expected 2 .*first row.*found 3"):
        read_all(task_for(path, source_key="0", target_key="1"))
    path = write(tmp_path / "e.tsv", "a\tb\n")
    with pytest.raises(DataFormatError, match=r"e\.tsv:1: column 2 \(target_key\) does not exist"):
        read_all(task_for(path, source_key="0", target_key="2"))


def test_tsv_mixed_keys_and_empty_file(tmp_path):
    path = write(tmp_path / "d.tsv", "s\tt\n")
    with pytest.raises(ValueError, match="all be column names .* or all column numbers"):
        read_all(task_for(path, source_key="s", target_key="1"))
    with pytest.raises(DataFormatError, match=r"d\.tsv: no examples .*only the header"):
        read_all(task_for(path, source_key="s", target_key="t"))


def test_tsv_invalid_utf8_names_line(tmp_path):
    path = write(tmp_path / "d.tsv", b"s\tt\nok\tfine\nbad \xff\tx\n", mode="wb")
    with pytest.raises(DataFormatError, match=r"d\.tsv:3: not valid UTF-8"):
        read_all(task_for(path, source_key="s", target_key="t"))


# ---------------------------------------------------------------- JSONL


def test_jsonl_named_fields_and_join(tmp_path):
    rows = [{"a": "One .", "b": "Two .", "t": "One and two ."},
            {"a": "Three .", "b": "", "t": "Three .", "extra": 5}]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert read_all(task_for(path, "jsonl", source_key="a+b", target_key="t")) == \
        [("One . Two .", "One and two ."), ("Three .", "Three .")]


@pytest.mark.parametrize("line, pattern", [
    ('{"source": "x", "target": ', r"d\.jsonl:2: not valid JSON"),
    ('["x", "y"]', r"d\.jsonl:2: expected a JSON object, got list"),
    ('{"source": "x"}', r"d\.jsonl:2: field 'target' \(target_key\) is missing; "
                        r"the object has \['source'\]"),
    ('{"source": 3, "target": "y"}', r"d\.jsonl:2: field 'source' \(source_key\) must be a "
                                     r"string, got int"),
])
def test_jsonl_malformed_lines_name_file_line_and_field(tmp_path, line, pattern):
    path = write(tmp_path / "d.jsonl", '{"source": "a", "target": "b"}\n' + line + "\n")
    with pytest.raises(DataFormatError, match=pattern):
        read_all(task_for(path, "jsonl"))


# ---------------------------------------------------------------- task-level errors


def test_missing_split_and_missing_file(tmp_path):
    path = write(tmp_path / "d.tsv", "source\ttarget\na\tb\n")
    task = task_for(path)
    with pytest.raises(ValueError, match=r"no data file for split 'validation' .*\['train'\]"):
        load_examples(task, "validation")
    task = task_for(tmp_path / "nope.tsv")
    with pytest.raises(FileNotFoundError, match=r"split 'train' not found: .*nope\.tsv"):
        load_examples(task, "train")


def test_key_fields():
    assert key_fields("a+b") == ["a", "b"]
    assert key_fields(" x ") == ["x"]
    with pytest.raises(ValueError, match="empty field name"):
        key_fields("a+")


def test_builtin_format_reads_the_builtin_pairs():
    from bert2bert.data.builtin import builtin_examples
    task = TaskConfig(name="smoke", file_format="builtin")  # the dataclass does not check
    got = read_all(task, "validation")
    assert got == builtin_examples("fusion", "validation")
