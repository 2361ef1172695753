"""Local data files checked in plain Python (no TensorFlow): TSV columns, JSON Lines fields.

Cheap enough to run before any model is built (`bert2bert.data.preflight`); the loaders in
`bert2bert.data.tasks` use the same functions, and a file checked once is not read again
for checking while it is unchanged.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "dev.tsv")
    >>> _ = open(path, "w").write("complex\\tsimple\\nA and B .\\tA . <::::> B .\\n")
    >>> check_tsv(path, "complex", "simple")
    TsvColumns(has_header=True, source=(0,), target=(1,), rows=1)
"""
import dataclasses
import functools
import json
import os
from typing import Iterator, List, Optional, Sequence, Tuple

from bert2bert.data.errors import DataError, DataFormatError
from bert2bert import textfiles
from bert2bert.textfiles import Opener, text_lines


def key_fields(key: str, what: str = "key") -> List[str]:
    """"a+b" -> ["a", "b"]; raises ValueError naming `what` for an empty part.

        >>> key_fields("incoherent_first_sentence+incoherent_second_sentence")
        ['incoherent_first_sentence', 'incoherent_second_sentence']
    """
    parts = [p.strip() for p in str(key).split("+")]
    if not all(parts):
        raise DataFormatError(f"{what} {key!r} has an empty field name (use 'a' or 'a+b')")
    return parts


def join_python(parts: Sequence[str]) -> str:
    """One field as it is; several: stripped, the empty ones dropped, joined with one space."""
    if len(parts) == 1:
        return parts[0]
    return " ".join(p.strip() for p in parts if p.strip())


def data_lines(path: str, opener: Optional[Opener] = None) -> Iterator[Tuple[int, str]]:
    """(line number, text) of the non-blank lines of a UTF-8 data file (see
    `bert2bert.textfiles`); `DataFormatError` names the file and line of bytes not UTF-8."""
    for number, line in enumerate(text_lines(path, opener, DataFormatError), start=1):
        if line:
            yield number, line


def _unchanged(function):
    """Caches `function(path, *keys)` while the file at `path` keeps its size and mtime."""
    cached = functools.lru_cache(maxsize=8)(
        lambda path, stamp, *keys: function(path, *keys))

    @functools.wraps(function)
    def wrapper(path: str, *keys):
        return cached(path, textfiles.stamp(path), *keys)

    return wrapper


@dataclasses.dataclass(frozen=True)
class TsvColumns:
    """Where a TSV file's source and target are: 0-based column numbers."""

    has_header: bool
    source: Tuple[int, ...]
    target: Tuple[int, ...]
    rows: int


@_unchanged
def check_tsv(path: str, source_key: str, target_key: str) -> TsvColumns:
    """Checks a whole tab-separated file: UTF-8, the key columns exist, every row has as many
    fields as the header (or the first row), at least one example.

    Named keys: the first non-blank line is a header naming the columns. Integer keys ("0",
    "1", "0+2"): no header, 0-based column numbers."""
    keys = [(k, "source_key") for k in key_fields(source_key, "source_key")] + \
           [(k, "target_key") for k in key_fields(target_key, "target_key")]
    numeric = [k.isdigit() for k, _ in keys]
    if any(numeric) and not all(numeric):
        raise DataFormatError(
            f"{path}: source_key {source_key!r} and target_key {target_key!r} must all be column "
            f"names (file with a header) or all column numbers (file without header)")
    has_header = not all(numeric)
    width, header, rows = None, [], 0
    for number, line in data_lines(path):
        fields = line.count("\t") + 1
        if width is None:
            width = fields
            if has_header:
                header = line.split("\t")
                for key, what in keys:
                    if key not in header:
                        raise DataFormatError(
                            f"{path}:{number}: column {key!r} ({what}) is not in the header "
                            f"{header}; for a file without header use column numbers "
                            f"like '0' and '1'")
                continue
            for key, what in keys:
                if int(key) >= width:
                    raise DataFormatError(
                        f"{path}:{number}: column {key} ({what}) does not exist: the file has "
                        f"{width} tab-separated column(s) (numbers start at 0)")
        elif fields != width:
            raise DataFormatError(
                f"{path}:{number}: expected {width} tab-separated fields "
                f"({'as the header' if has_header else 'as the first row'}), found {fields}")
        rows += 1
    if rows == 0:
        raise DataFormatError(f"{path}: no examples (the file is empty"
                              f"{' or holds only the header' if has_header else ''})")
    column = {name: i for i, name in enumerate(header)} if has_header else {}
    columns = [column[k] if has_header else int(k) for k, _ in keys]
    n_source = len(key_fields(source_key))
    return TsvColumns(has_header, tuple(columns[:n_source]), tuple(columns[n_source:]), rows)


@_unchanged
def read_jsonl(path: str, source_key: str, target_key: str) -> Tuple[Tuple[str, str], ...]:
    """The (source, target) pairs of a JSON Lines file: one object per line with string fields."""
    src = key_fields(source_key, "source_key")
    tgt = key_fields(target_key, "target_key")
    pairs = []
    for number, line in data_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{path}:{number}: not valid JSON ({e.msg} at column "
                                  f"{e.colno})") from None
        if not isinstance(obj, dict):
            raise DataFormatError(f"{path}:{number}: expected a JSON object, got "
                                  f"{type(obj).__name__}")
        values = []
        for keys, what in ((src, "source_key"), (tgt, "target_key")):
            for key in keys:
                if key not in obj:
                    raise DataFormatError(f"{path}:{number}: field {key!r} ({what}) is missing; "
                                          f"the object has {sorted(obj)}")
                if not isinstance(obj[key], str):
                    raise DataFormatError(f"{path}:{number}: field {key!r} ({what}) must be a "
                                          f"string, got {type(obj[key]).__name__}")
            values.append(join_python([obj[k] for k in keys]))
        pairs.append(tuple(values))
    if not pairs:
        raise DataFormatError(f"{path}: no examples (the file is empty)")
    return tuple(pairs)


def data_file(task, split: str) -> str:
    """The existing file `task.data_files[split]` (for file_format tsv or jsonl)."""
    if split not in task.data_files:
        raise DataError(f"task {task.name!r}: no data file for split {split!r} in "
                        f"task.data_files (splits: {sorted(task.data_files)})")
    path = textfiles.expanduser(os.fspath(task.data_files[split]))
    if textfiles.isdir(path):
        raise IsADirectoryError(f"task {task.name!r}: data file for split {split!r} is a "
                                f"directory: {path}")
    if not textfiles.isfile(path):
        raise FileNotFoundError(f"task {task.name!r}: data file for split {split!r} not found: "
                                f"{path}")
    return path
