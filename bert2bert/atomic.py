"""Atomic writes: a file appears complete under its name, or not at all.

    write_text("runs/x/config.yaml", text)
    with replacing("runs/x/model.keras") as tmp:   # any writer that takes a path
        model.save(tmp)

The data goes to a hidden temp name beside the target (same directory, same suffix), is
flushed to disk, and is renamed over the target; on any error the temp file is removed and
the target is left as it was. A URL (gs://, ram://) is written the same way through
`tf.io.gfile` (`bert2bert.textfiles`); there the rename is a copy and a delete on an object
store, and nothing is fsynced (the store's write is durable when the file is closed).
"""
import contextlib
import json
import os
import uuid

from bert2bert import textfiles

TEMP_MARK = ".tmp-"  # hidden temp names: .<name>.tmp-<pid>-<hex><suffix>


def temp_name(path: str) -> str:
    """A fresh hidden name beside `path`, with the same suffix (Keras checks it)."""
    folder, name = os.path.split(textfiles.absolute(path))
    suffix = os.path.splitext(name)[1]
    return textfiles.join(folder,
                          f".{name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def is_temp_name(name: str) -> bool:
    """A name made by `temp_name` (left over by a killed writer)."""
    return name.startswith(".") and TEMP_MARK in name


@contextlib.contextmanager
def replacing(path: str, overwrite: bool = True):
    """Yields a temp path beside `path`; moves it onto `path` when the block succeeds.

    `overwrite=False`: raises FileExistsError if `path` exists when the data is complete
    (hard link: no window in which another writer's file could be replaced)."""
    textfiles.makedirs(os.path.dirname(textfiles.absolute(path)))
    tmp = temp_name(path)
    try:
        yield tmp
        if textfiles.is_url(path):
            textfiles.rename(tmp, path, overwrite)
        else:
            _fsync(tmp)
            if overwrite:
                os.replace(tmp, path)
            else:
                _publish_new(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):  # OSError; tf.errors.OpError for a URL
            if textfiles.lexists(tmp):
                textfiles.remove(tmp)
        raise


def _publish_new(tmp: str, path: str):
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists; not replacing it") from None
    except OSError:  # no hard links on this filesystem
        if os.path.lexists(path):
            raise FileExistsError(f"{path} exists; not replacing it") from None
        os.replace(tmp, path)
    else:
        os.remove(tmp)


def write_bytes(path: str, data: bytes, overwrite: bool = True) -> str:
    """Writes `data` to `path` atomically; returns `path`."""
    with replacing(path, overwrite) as tmp:
        with textfiles.open_file(tmp, "wb") as f:
            f.write(data)
    return path


def write_text(path: str, text: str, overwrite: bool = True) -> str:
    return write_bytes(path, text.encode("utf-8"), overwrite)


def write_json(path: str, obj) -> str:
    return write_text(path, json.dumps(obj, indent=1))


def copy_file(source: str, path: str) -> str:
    return write_bytes(path, textfiles.read_bytes(source))


def _fsync(path: str):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
