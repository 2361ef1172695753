"""`bert2bert.textfiles.text_lines`, and every line reader that uses it failing the same way:
a `FileFormatError` naming the file and line for bytes that are not UTF-8, and a
`FileNotFoundError` naming the file when it is missing."""
import gzip
import zipfile

import pytest

from bert2bert.config import TaskConfig
from bert2bert.errors import FileFormatError
from bert2bert.textfiles import raw_lines, text_lines
from tests.data.common import write

BAD = b"fine\nstill fine\nGr\xfc\xdfe\n"  # line 3 is Latin-1


def bad_utf8(path):
    """The message every reader gives for BAD at `path`."""
    return rf"{path}:3: not valid UTF-8"


# ---------------------------------------------------------------- the helper

def test_lines_without_their_ends(tmp_path):
    path = write(tmp_path / "a.txt", b"\xef\xbb\xbfone\r\n\ntwo\rstill two\nlast", mode="wb")
    assert list(text_lines(path)) == ["one", "", "two\rstill two", "last"]
    assert list(raw_lines(path)) == [b"one", b"", b"two\rstill two", b"last"]
    assert list(text_lines(write(tmp_path / "b.txt", "x\n"))) == ["x"]
    assert list(text_lines(write(tmp_path / "c.txt", ""))) == []


def test_gzip_files_are_decompressed(tmp_path):
    path = str(tmp_path / "a.txt.gz")
    with gzip.open(path, "wb") as f:
        f.write("zwei\ndrei\n".encode())
    assert list(text_lines(path)) == ["zwei", "drei"]
    write(tmp_path / "broken.gz", b"not gzip", mode="wb")
    with pytest.raises(FileFormatError, match=r"broken\.gz: not a readable gzip file"):
        list(text_lines(str(tmp_path / "broken.gz")))


def test_bad_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path / "a.txt", BAD, mode="wb")
    lines = text_lines(path)
    assert [next(lines), next(lines)] == ["fine", "still fine"]  # read lazily up to the bad one
    with pytest.raises(FileFormatError, match=bad_utf8(path)):
        next(lines)


def test_missing_file_names_the_file(tmp_path):
    path = str(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt") as e:
        list(text_lines(path))
    assert e.value.filename == path  # the CLI prints "<file>: No such file or directory"


def test_the_error_class_may_be_a_subclass(tmp_path):
    from bert2bert.data import DataFormatError
    path = write(tmp_path / "a.txt", BAD, mode="wb")
    with pytest.raises(DataFormatError, match=bad_utf8(path)):
        list(text_lines(path, error=DataFormatError))


# ---------------------------------------------------------------- the readers

@pytest.mark.parametrize("file_format", ["tsv", "jsonl"])
def test_task_data(tmp_path, file_format):
    from bert2bert.data import DataFormatError, load_examples
    row = b'{"s": "a", "t": "b"}\n' if file_format == "jsonl" else b"a\tb\n"
    head = b"s\tt\n" if file_format == "tsv" else row
    path = write(tmp_path / f"d.{file_format}", head + row + b"\xff" + row, mode="wb")
    task = TaskConfig(name="mine", file_format=file_format, data_files={"train": path},
                      source_key="s", target_key="t")
    with pytest.raises(DataFormatError, match=bad_utf8(path)):
        load_examples(task, "train")


def test_tfds_builder_source_in_a_zip(tmp_path):
    from bert2bert.data import DataFormatError, load_examples
    manual = tmp_path / "manual"
    manual.mkdir()
    with zipfile.ZipFile(manual / "train.tsv.zip", "w") as z:
        z.writestr("train.tsv", b"a\tb\nc\td\nGr\xfc\xdfe\tx\n")
    task = TaskConfig(name="wikisplit", tfds_name="wikisplit", file_format="tfds",
                      source_key="complex_sentence", target_key="simple_sentence")
    with pytest.raises(DataFormatError, match=rf"train\.tsv\.zip!train\.tsv:3: not valid UTF-8"):
        load_examples(task, "train", str(tmp_path / "tfds"), str(manual))


def test_metrics_files(tmp_path):
    from bert2bert.metrics import score_files
    good = write(tmp_path / "hyp.txt", "a\nb\nc\n")
    ref = write(tmp_path / "ref.txt", BAD, mode="wb")
    with pytest.raises(FileFormatError, match=bad_utf8(ref)):
        score_files("exact", good, ref)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        score_files("exact", good, str(tmp_path / "nope.txt"))


def test_predict_input(tmp_path, monkeypatch):
    """Input lines are bytes (the tokenizers handle invalid UTF-8 as the originals do), split
    by the same helper; a missing input is named."""
    from bert2bert.export import predict
    monkeypatch.setattr(predict, "predict_lines",
                        lambda lines, **_: [x.decode("utf-8", "replace").upper() for x in lines])
    source = write(tmp_path / "in.txt", b"\xef\xbb\xbfone\r\n\nbad \xff\n", mode="wb")
    assert predict.predict_file(source, str(tmp_path / "out.txt"), progress=False) == 3
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "ONE\n\nBAD \ufffd\n"
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        predict.predict_file(str(tmp_path / "missing.txt"), str(tmp_path / "o.txt"))


def test_wordpiece_vocab(tmp_path):
    from bert2bert.text import WordPieceTokenizer
    tokens = b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    path = write(tmp_path / "vocab.txt", tokens + b"caf\xe9\nhello\n", mode="wb")
    with pytest.raises(FileFormatError, match=rf"{path}:6: not valid UTF-8"):
        WordPieceTokenizer(path, lowercase=True)
    with pytest.raises(FileNotFoundError, match="nowhere/vocab.txt"):
        WordPieceTokenizer(str(tmp_path / "nowhere" / "vocab.txt"), lowercase=True)


@pytest.mark.parametrize("start, newline", [(b"\xef\xbb\xbf", b"\n"), (b"", b"\r\n")])
def test_wordpiece_vocab_with_bom_or_crlf(tmp_path, start, newline):
    from bert2bert.text import WordPieceTokenizer
    words = [b"hello", b"[PAD]", b"[UNK]", b"[CLS]", b"[SEP]", b"[MASK]", b"world"]
    path = write(tmp_path / "vocab.txt", start + newline.join(words) + newline, mode="wb")
    tok = WordPieceTokenizer(path, lowercase=True)
    assert tok.special_tokens.pad_id == 1
    assert tok.tokenize(["hello world"]).to_list() == [[0, 6]]  # the first token too
