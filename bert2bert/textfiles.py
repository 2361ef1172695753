"""Reading a text file line by line, with one error style for every reader in the project.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "lines.txt")
    >>> _ = open(path, "wb").write(b"\\xef\\xbb\\xbfone\\r\\n\\ntwo")
    >>> list(text_lines(path))
    ['one', '', 'two']
    >>> _ = open(path, "wb").write(b"fine\\nGr\\xfc\\xdfe\\n")
    >>> list(text_lines(path))
    Traceback (most recent call last):
    ...
    bert2bert.errors.FileFormatError: ...lines.txt:2: not valid UTF-8 (invalid start byte)

Only "\\n" ends a line (a "\\r" at the end of a line is dropped, one inside is text); a final
"\\n" does not start another line; a UTF-8 byte order mark is dropped; a path ending in ".gz" is
decompressed. A missing file raises the `FileNotFoundError` of `open`, which names the file.
Plain Python: no TensorFlow.
"""
import gzip
from typing import BinaryIO, Callable, ContextManager, Iterator, Optional, Type

from bert2bert.errors import FileFormatError

BOM = b"\xef\xbb\xbf"
Opener = Callable[[str], ContextManager[BinaryIO]]  # path -> an open binary file


def open_binary(path: str) -> BinaryIO:
    """The file at `path` opened for reading bytes; ".gz" files are decompressed."""
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


def raw_lines(path: str, opener: Optional[Opener] = None,
              error: Type[FileFormatError] = FileFormatError) -> Iterator[bytes]:
    """The lines of a file as bytes, without their line end (see the module).

    `opener(path)` opens the file for reading bytes (default `open_binary`); with another
    opener (a zip member, a `tf.io.gfile` path) `path` only names the file in messages. A
    broken gzip file raises `error` naming the file."""
    try:
        with (opener or open_binary)(path) as f:
            for number, line in enumerate(f, start=1):  # binary files split on b"\n" only
                if line.endswith(b"\n"):
                    line = line[:-1]
                if line.endswith(b"\r"):
                    line = line[:-1]
                if number == 1 and line.startswith(BOM):
                    line = line[len(BOM):]
                yield line
    except (gzip.BadGzipFile, EOFError) as e:
        raise error(f"{path}: not a readable gzip file ({e})") from None


def text_lines(path: str, opener: Optional[Opener] = None,
               error: Type[FileFormatError] = FileFormatError) -> Iterator[str]:
    """The lines of a UTF-8 file as str, without their line end (see the module).

    Bytes that are not UTF-8 raise `error` (a `FileFormatError`, e.g. the data package's
    `DataFormatError`) whose message names the file and the line: "path:LINE: not valid UTF-8".
    `opener` and `path` as for `raw_lines`."""
    for number, line in enumerate(raw_lines(path, opener, error), start=1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise error(f"{path}:{number}: not valid UTF-8 ({e.reason})") from None
