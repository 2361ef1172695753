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

Every file operation of the package goes through the functions below (`exists`, `listdir`,
`open_file`, `rename`, ...), so every path may be local or a URL (`gs://bucket/run`, `ram://`,
any scheme `tf.io.gfile` knows). A local path goes to `os`/`open` exactly as before (same
behaviour, same error messages, no TensorFlow import: this module is plain Python); a URL goes,
untouched, to `tf.io.gfile`, imported only then.

    >>> join("gs://bucket/run", "eval", "results-3.json")
    'gs://bucket/run/eval/results-3.json'
    >>> absolute("gs://bucket/run") == "gs://bucket/run" and is_url("gs://b") and not is_url("/b")
    True
"""
import glob as _glob
import gzip
import os
import posixpath
import re
import shutil
from typing import BinaryIO, Callable, ContextManager, Iterator, List, Optional, Type

from bert2bert.errors import FileFormatError

BOM = b"\xef\xbb\xbf"
Opener = Callable[[str], ContextManager[BinaryIO]]  # path -> an open binary file


def open_binary(path: str) -> BinaryIO:
    """The file at `path` (local or URL) opened for reading bytes; ".gz" files are
    decompressed."""
    path = os.fspath(path)
    if not str(path).endswith(".gz"):
        return open_file(path, "rb")
    if not is_url(path):
        return gzip.open(path, "rb")
    raw = open_file(path, "rb")
    decompressed = gzip.GzipFile(fileobj=raw, mode="rb")
    decompressed.myfileobj = raw  # closed with it, as when gzip opens the file itself
    return decompressed


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


# ---- every file operation: local paths through os, URLs through tf.io.gfile ----

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """A path with a scheme (gs://, ram://, hdfs://, s3://): only `tf.io.gfile` can reach it."""
    return bool(_SCHEME.match(os.fspath(path))) if isinstance(path, (str, os.PathLike)) else False


def _gfile():
    import tensorflow as tf  # noqa: PLC0415 - only for URLs: local paths need no TensorFlow

    return tf.io.gfile


def _not_found(path: str) -> FileNotFoundError:
    return FileNotFoundError(2, "No such file or directory", path)


def join(path, *parts) -> str:
    """`os.path.join`; a URL is joined with "/" and never made absolute or normalised."""
    path = os.fspath(path)
    return posixpath.join(path, *map(os.fspath, parts)) if is_url(path) else \
        os.path.join(path, *map(os.fspath, parts))


def absolute(path) -> str:
    """`os.path.abspath` of a local path; a URL unchanged (it is absolute already)."""
    path = os.fspath(path)
    return path if is_url(path) else os.path.abspath(path)


def canonical(path) -> str:
    """`os.path.realpath` of a local path (links resolved); a URL unchanged."""
    path = os.fspath(path)
    return path if is_url(path) else os.path.realpath(path)


def expanduser(path) -> str:
    path = os.fspath(path)
    return path if is_url(path) else os.path.expanduser(path)


def exists(path) -> bool:
    path = os.fspath(path)
    return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def lexists(path) -> bool:
    """`exists`, true for a broken local symlink too."""
    path = os.fspath(path)
    return _gfile().exists(path) if is_url(path) else os.path.lexists(path)


def isdir(path) -> bool:
    path = os.fspath(path)
    return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def isfile(path) -> bool:
    path = os.fspath(path)
    if is_url(path):
        gfile = _gfile()
        return gfile.exists(path) and not gfile.isdir(path)
    return os.path.isfile(path)


def getsize(path) -> int:
    path = os.fspath(path)
    if not is_url(path):
        return os.path.getsize(path)
    if not _gfile().exists(path):
        raise _not_found(path)
    return _gfile().stat(path).length


def listdir(path) -> List[str]:
    """The names in a directory (no trailing "/" on a URL's subdirectories)."""
    path = os.fspath(path)
    if not is_url(path):
        return os.listdir(path)
    if not _gfile().isdir(path):
        raise _not_found(path)
    names = [name.rstrip("/") for name in _gfile().listdir(path)]
    if path.startswith("ram://"):  # ram:// lists "x/.extra" for "x.extra/...": not real
        names = [n for n in names if _gfile().exists(posixpath.join(path, n))]
    return names


def walk(path) -> Iterator:
    """`os.walk` (top-down: (directory, subdirectory names, file names))."""
    path = os.fspath(path)
    if not is_url(path):
        yield from os.walk(path)
        return
    if path.startswith("ram://"):  # walk over the corrected listdir (see there)
        subdirs, names = [], []
        for name in listdir(path):
            (subdirs if isdir(join(path, name)) else names).append(name)
        yield path, subdirs, names
        for name in subdirs:
            yield from walk(join(path, name))
        return
    for directory, subdirs, names in _gfile().walk(path):
        yield directory, [d.rstrip("/") for d in subdirs], list(names)


def glob(pattern) -> List[str]:
    """The paths matching a shell pattern (`glob.glob`; `tf.io.gfile.glob` for a URL)."""
    pattern = os.fspath(pattern)
    return _gfile().glob(pattern) if is_url(pattern) else _glob.glob(pattern)


def glob_escape(path) -> str:
    """`path` as a glob pattern that matches only itself."""
    return _glob.escape(os.fspath(path))


def makedirs(path) -> None:
    """Makes a directory and its parents; fine if it exists."""
    path = os.fspath(path)
    if is_url(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def remove(path) -> None:
    path = os.fspath(path)
    if not is_url(path):
        os.remove(path)
    elif not _gfile().exists(path):
        raise _not_found(path)
    else:
        _gfile().remove(path)


def rmtree(path, ignore_errors: bool = False) -> None:
    path = os.fspath(path)
    if not is_url(path):
        shutil.rmtree(path, ignore_errors=ignore_errors)
        return
    try:
        _gfile().rmtree(path)
    except Exception:  # noqa: BLE001 - tf.errors.OpError, without importing TensorFlow here
        if not ignore_errors:
            raise


def rename(source, target, overwrite: bool = True) -> None:
    """Moves a FILE (`os.replace`; `os.rename` when not `overwrite`). On an object store
    (gs://) a rename is a copy and a delete: atomic for readers of the target, not
    instantaneous."""
    source, target = os.fspath(source), os.fspath(target)
    if is_url(source) or is_url(target):
        if not overwrite and exists(target):
            raise FileExistsError(17, "File exists", target)
        _gfile().rename(source, target, overwrite=True)
    elif overwrite:
        os.replace(source, target)
    else:
        if os.path.lexists(target):
            raise FileExistsError(17, "File exists", target)
        os.rename(source, target)


def move_tree(source, target) -> None:
    """Moves a directory to a new name (`os.rename`). A URL's directory is copied file by
    file and then deleted: object stores have no directories to rename."""
    source, target = os.fspath(source), os.fspath(target)
    if not (is_url(source) or is_url(target)):
        os.rename(source, target)
        return
    if exists(target):
        raise FileExistsError(17, "File exists", target)
    copy_tree(source, target)
    rmtree(source)


def copy_tree(source, target) -> None:
    """Copies a directory (local or URL, either side) to `target`, made as needed."""
    source, target = os.fspath(source), os.fspath(target)
    for directory, _, names in walk(source):
        rel = directory[len(source):].strip("/")
        out = join(target, *rel.split("/")) if rel else target
        makedirs(out)
        for name in names:
            copy(join(directory, name), join(out, name))


def copy(source, target, overwrite: bool = True) -> None:
    """Copies one file (bytes), local or URL on either side."""
    source, target = os.fspath(source), os.fspath(target)
    if not overwrite and lexists(target):
        raise FileExistsError(17, "File exists", target)
    if is_url(source) or is_url(target):
        if not exists(source):
            raise _not_found(source)
        _gfile().copy(source, target, overwrite=True)
    else:
        shutil.copyfile(source, target)


def open_file(path, mode: str = "r", encoding: Optional[str] = None):
    """`open(path, mode)`; a URL's `tf.io.gfile.GFile` (text modes read and write UTF-8).
    A missing file raises `FileNotFoundError` naming it, for a URL too."""
    path = os.fspath(path)
    if not is_url(path):
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding or "utf-8")
    if "r" in mode and not _gfile().exists(path):
        raise _not_found(path)
    return _gfile().GFile(path, mode)


def read_bytes(path) -> bytes:
    with open_file(path, "rb") as f:
        return f.read()


def read_text(path) -> str:
    """The UTF-8 text of a file (a URL's too)."""
    return read_bytes(path).decode("utf-8")


def local_only(path, what: str, error: Optional[type] = None) -> str:
    """`path` if it is local; else `error` (default `UsageError`) in one line: `what` needs a
    local path (a reader that cannot go through tf.io.gfile: h5py, safetensors, a lock)."""
    path = os.fspath(path)
    if is_url(path):
        from bert2bert.errors import UsageError

        raise (error or UsageError)(f"{path}: {what} needs a local path; got a URL (copy it "
                                    "to a local directory first)")
    return path


def stamp(path) -> tuple:
    """(size, modification time in ns) of a file: changes when the file is rewritten."""
    path = os.fspath(path)
    if not is_url(path):
        stat = os.stat(path)
        return stat.st_size, stat.st_mtime_ns
    if not _gfile().exists(path):
        raise _not_found(path)
    stat = _gfile().stat(path)
    return stat.length, stat.mtime_nsec
