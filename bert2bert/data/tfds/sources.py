"""Where a split's source file is: a plain file, or a member of a zip archive, found by name in
a folder tree (plain Python; a URL folder, gs://, through `bert2bert.textfiles`).

    >>> import os, tempfile, zipfile
    >>> root = tempfile.mkdtemp()
    >>> with zipfile.ZipFile(os.path.join(root, "train.tsv.zip"), "w") as z:
    ...     z.writestr("train.tsv", "A and B .\\tA . <::::> B .\\n")
    >>> source = find_in_dir(root, "train.tsv")
    >>> source.member, list(source.lines())
    ('train.tsv', [(1, 'A and B .\\tA . <::::> B .')])
"""
import contextlib
import fnmatch
import os
import zipfile
from typing import BinaryIO, Iterator, Optional, Tuple

from bert2bert import textfiles
from bert2bert.data.files import data_lines


class SourceFile:
    """One source file of a split: a path on disk, or a `member` of the zip archive at `path`."""

    def __init__(self, path: str, member: Optional[str] = None):
        self.path = path
        self.member = member

    def __repr__(self):
        return f"{self.path}!{self.member}" if self.member else self.path

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The file opened for reading bytes (a context manager)."""
        if self.member is None:
            with textfiles.open_file(self.path, "rb") as f:
                yield f
        else:
            with textfiles.open_file(self.path, "rb") as raw, zipfile.ZipFile(raw) as archive, \
                    archive.open(self.member) as f:
                yield f

    def lines(self) -> Iterator[Tuple[int, str]]:
        """(line number, text) of the non-blank lines; `DataFormatError` for bytes not UTF-8."""
        return data_lines(repr(self), lambda _name: self.open())


def is_zip(path: str) -> bool:
    """True for an existing zip archive (whatever its file name: TFDS names downloads by hash)."""
    if not textfiles.isfile(path):
        return False
    with textfiles.open_file(path, "rb") as f:
        return zipfile.is_zipfile(f)


def find_in_zip(zip_path: str, pattern: str, must_contain: Optional[str] = None
                ) -> Optional[SourceFile]:
    """The first member (sorted) of the zip archive `zip_path` whose base name matches
    `pattern`; with `must_contain`, a folder of the member's path (or the archive's own file
    name) must contain that string."""
    with textfiles.open_file(zip_path, "rb") as raw, zipfile.ZipFile(raw) as archive:
        for member in sorted(archive.namelist()):
            parts = member.split("/")
            if not fnmatch.fnmatch(parts[-1], pattern):
                continue
            if must_contain and not any(must_contain in p for p in parts[:-1]) and \
                    must_contain not in os.path.basename(zip_path):
                continue
            return SourceFile(zip_path, member)
    return None


def find_in_dir(root: Optional[str], pattern: str, must_contain: Optional[str] = None
                ) -> Optional[SourceFile]:
    """The first file under `root` whose base name matches `pattern`: top-level files first,
    then members of top-level zip archives, then files in subfolders (all sorted). With
    `must_contain`, files below the top level need a folder name (or archive name) containing
    that string."""
    if not root or not textfiles.isdir(root):
        return None
    top = sorted(textfiles.listdir(root))
    for name in top:
        if fnmatch.fnmatch(name, pattern) and textfiles.isfile(textfiles.join(root, name)):
            return SourceFile(textfiles.join(root, name))
    for name in top:
        path = textfiles.join(root, name)
        if name.endswith(".zip") and is_zip(path):
            found = find_in_zip(path, pattern, must_contain)
            if found is not None:
                return found
    for dirpath, dirnames, filenames in sorted(textfiles.walk(root)):
        dirnames.sort()
        if dirpath == root:
            continue
        folders = os.path.relpath(dirpath, root).split(os.sep)
        if must_contain and not any(must_contain in f for f in folders):
            continue
        for name in sorted(filenames):
            if fnmatch.fnmatch(name, pattern):
                return SourceFile(textfiles.join(dirpath, name))
    return None
