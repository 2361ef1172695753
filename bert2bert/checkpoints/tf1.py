"""What the two TF1 formats (google-research BERT, OpenAI GPT-2) have in common."""
import os

import tensorflow as tf

from bert2bert import textfiles
from bert2bert.checkpoints.base import CheckpointError, CheckpointReader, require_file
from bert2bert.checkpoints.layout import build_sources


def find_prefix(path: str) -> str:
    """The checkpoint prefix for a directory or a prefix path (no `checkpoint` file needed)."""
    # (ram:// calls any prefix of a file name a directory: a prefix with an .index is not one)
    if textfiles.isdir(path) and not (textfiles.is_url(path) and textfiles.exists(path + ".index")):
        state = tf.train.latest_checkpoint(path)
        if state:
            return state
        indexes = sorted(textfiles.glob(textfiles.join(path, "*.ckpt*.index")))
        if not indexes:
            raise CheckpointError(f"{path}: no TF1 checkpoint (*.ckpt.index) in this directory")
        return indexes[0][: -len(".index")]
    if path.endswith(".index"):
        path = path[: -len(".index")]
    require_file(path + ".index", "checkpoint index file")
    return path


def open_tf1(prefix: str):
    """A TF checkpoint reader, with a one-line error for missing or corrupt files."""
    if not textfiles.glob(prefix + ".data-*"):
        raise CheckpointError(f"{prefix}.data-00000-of-00001: missing checkpoint data file")
    try:
        # Not tf.train.load_checkpoint: it asks whether the prefix is a directory first, which
        # ram:// answers yes for any prefix of a file name. The reader takes any gfile URL.
        return tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as e:  # noqa: BLE001 - TF raises several types here
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{prefix}: not a readable TF checkpoint: {msg}") from e


def is_object_based(prefix: str) -> bool:
    """True for TF2 object-based checkpoints (they carry an object graph)."""
    try:
        names = set(tf.compat.v1.train.NewCheckpointReader(prefix).get_variable_to_shape_map())
    except Exception:  # noqa: BLE001 - unreadable: let the reader say why
        return False
    return "_CHECKPOINTABLE_OBJECT_GRAPH" in names


def has_tf1_checkpoint(path: str, config_name: str) -> bool:
    """A directory (or a prefix in one) with `config_name` and a name-based *.ckpt."""
    directory = path if textfiles.isdir(path) else os.path.dirname(path)
    if not (textfiles.isfile(textfiles.join(directory, config_name))
            and textfiles.glob(textfiles.join(directory, "*.ckpt*.index"))):
        return False
    try:
        return not is_object_based(find_prefix(path))
    except CheckpointError:
        return True  # let the reader report what is missing


class TF1Reader(CheckpointReader):
    """A name-based TF1 checkpoint described by a `TABLE` (see layout.py)."""

    TABLE: dict = {}
    MARKER = ""  # a variable every checkpoint of this format has
    OTHER_MARKERS = {}  # marker variable of another format -> its name, for hints

    def _open_weights(self):
        self.weights_file = self.prefix
        self._reader = open_tf1(self.prefix)
        self._shapes = {n: tuple(s) for n, s in self._reader.get_variable_to_shape_map().items()}
        if self.MARKER not in self._shapes:
            hint = next((f" (it looks like a {what} checkpoint)"
                         for marker, what in self.OTHER_MARKERS.items()
                         if marker in self._shapes), "")
            raise CheckpointError(f"{self.prefix}: not a {self.description}: no variable "
                                  f"'{self.MARKER}'{hint}")

    def variables(self):
        return dict(self._shapes)

    def read(self, name):
        return self._reader.get_tensor(name)

    def canonical(self):
        return build_sources(self.TABLE, self.config, self._shapes)
