"""One writer per run directory: an advisory lock file naming its holder.

    lock = acquire("runs/smoke")   # held while `lock` lives (or until the process exits)

The lock is `model_dir/.lock`, flock()ed by the holder and holding its pid, host and start
time; it is removed on release. A second process gets `RunLockedError` naming the holder. A lock left by a process
that died on this host (SIGKILL, power loss) is taken over with a loud line. Calls from the
same process share one lock. Locking is per host: on a shared filesystem a holder on another
host is only named, never detected as dead.

A URL run directory (gs://, any tf.io.gfile scheme) cannot be flock()ed: there the lock file
is only checked and written (`_acquire_url`). That is advisory: it refuses a second run on a
live one and takes over a dead holder's file as above, but two runs started within the same
moment can both pass the check (an object store has no atomic create-if-absent through gfile).
"""
import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
import weakref
from typing import Optional

from bert2bert import textfiles

log = logging.getLogger("bert2bert")
LOCK_FILE = ".lock"
_held = weakref.WeakValueDictionary()  # realpath -> RunLock held by this process


class RunLockedError(FileExistsError):
    """Another process holds the run directory."""


class RunLock:
    """An open, flock()ed lock file; released (removed and closed) when garbage-collected."""

    def __init__(self, path: str, fd: Optional[int]):
        self.path = path
        self._finalizer = weakref.finalize(self, _release, path, fd)

    def release(self):
        self._finalizer()


def _release(path: str, fd: Optional[int]):
    if fd is None:  # a URL's lock file (no descriptor)
        with contextlib.suppress(Exception):  # OSError or tf.errors.OpError
            textfiles.remove(path)
        return
    with contextlib.suppress(OSError):
        os.remove(path)  # a released lock leaves nothing; a killed holder's file stays
    os.close(fd)  # drops the flock (others then see a new file: see the inode check)


def _start_time(pid: int):
    """The process's start time in clock ticks (tells a reused pid apart), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    pid = int(holder.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = holder.get("start_time")
    return started is None or _start_time(pid) in (None, started)


def describe(holder: dict) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} since {since}"


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    return _parse(os.read(fd, 65536))


def _parse(raw: bytes) -> dict:
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"pid": "?", "host": "?", "unreadable": raw[:80].decode("utf-8", "replace")}


def acquire(model_dir: str) -> RunLock:
    """Takes the run directory's lock, or raises `RunLockedError` naming the holder."""
    key = textfiles.canonical(model_dir)
    lock = _held.get(key)
    if lock is not None:
        return lock
    if textfiles.is_url(model_dir):
        return _acquire_url(model_dir, key)
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, LOCK_FILE)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunLockedError(f"{model_dir} is in use by {describe(holder)} (lock file "
                                 f"{path}); wait for it to finish or use another --model_dir")
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the file was replaced while we waited: lock the new one
    holder = _read(fd)
    if holder:
        _refuse_live(holder, model_dir, path, lambda: os.close(fd))
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, _me())
    os.fsync(fd)
    lock = RunLock(path, fd)
    _held[key] = lock
    return lock


def _refuse_live(holder: dict, model_dir: str, path: str, close) -> None:
    """Raises `RunLockedError` (after `close()`) unless the holder died on this host; then
    says loudly that its lock is taken over."""
    if holder.get("host") != socket.gethostname() or _alive(holder):
        close()
        raise RunLockedError(
            f"{model_dir} is in use by {describe(holder)} (lock file {path}); if that run "
            f"is over, delete the lock file")
    message = f"taking over the stale lock of {model_dir}: {describe(holder)} is dead"
    log.warning(message)
    print(f"warning: {message}", flush=True)


def _me() -> bytes:
    pid = os.getpid()
    return json.dumps({"pid": pid, "host": socket.gethostname(), "since": time.time(),
                       "start_time": _start_time(pid)}).encode("utf-8")


def _acquire_url(model_dir: str, key: str) -> RunLock:
    """The advisory lock of a URL run directory (see the module): check, then write."""
    textfiles.makedirs(model_dir)
    path = textfiles.join(model_dir, LOCK_FILE)
    if textfiles.exists(path):
        _refuse_live(_parse(textfiles.read_bytes(path)), model_dir, path, lambda: None)
    with textfiles.open_file(path, "wb") as f:
        f.write(_me())
    lock = RunLock(path, None)
    _held[key] = lock
    return lock
