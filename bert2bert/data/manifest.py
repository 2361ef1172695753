"""The manifest of a prepared data directory (`bert2bert prepare`), in plain Python.

A prepared directory holds each split as TFRecord shards of token ids (`bert2bert.data.
prepared` writes them, `bert2bert.data.sharded` reads them) and `manifest.json`, written last:

    {"format_version": 1, "task": "tiny_fusion", "decoder_only": false, "start_id": 101,
     "decoder_start": "start", "max_source_length": 24, "max_target_length": 16,
     "source_vocab": {"family": "bert", "lowercase": true, "sha256": {"vocab_txt": "..."}},
     "target_vocab": {...}, "text_task": {...the TaskConfig the text came from...},
     "splits": {"train": {"files": ["train-00000-of-00002.tfrecord", ...],
                          "counts": [48, 48], "total": 96}}}

`check_run` holds a manifest against a run (vocabulary files, lengths, start id) and names
the first field that differs in one line; `text_task` gives back the task the text came
from, so evaluation (which needs the strings) reads them there. No TensorFlow here: preflight
checks a prepared task before anything slow.
"""
import dataclasses
import hashlib
import json
from typing import Dict, List, Optional

from bert2bert import textfiles
from bert2bert.config import TaskConfig
from bert2bert.data.errors import DataError

def check_output(output: str) -> None:
    """Refuses, in one line, an output directory that holds anything (before TensorFlow)."""
    if textfiles.exists(output) and (not textfiles.isdir(output) or textfiles.listdir(output)):
        raise FileExistsError(f"--output {output}: not an empty directory; prepare into a new "
                              "one (a prepared directory is never changed)")


FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FEATURES = ("encoder_token_ids", "decoder_token_ids", "labels")  # int64 lists per example


@dataclasses.dataclass
class VocabRecord:
    """A vocabulary as tokenization sees it: family, effective casing, sha256 of each file."""

    family: str
    lowercase: Optional[bool]
    sha256: Dict[str, str]


@dataclasses.dataclass
class SplitRecord:
    """One split's shards (names relative to the directory) and examples in each."""

    files: List[str]
    counts: List[int]
    total: int


@dataclasses.dataclass
class Manifest:
    format_version: int
    task: str
    decoder_only: bool
    start_id: int
    decoder_start: str
    max_source_length: int
    max_target_length: int
    source_vocab: VocabRecord
    target_vocab: VocabRecord
    text_task: Dict
    splits: Dict[str, SplitRecord]

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict, where: str) -> "Manifest":
        try:
            version = data["format_version"]
            if version != FORMAT_VERSION:
                raise DataError(f"{where}: format_version {version!r}; this bert2bert reads "
                                f"{FORMAT_VERSION}: prepare the data again")
            values = {f.name: data[f.name] for f in dataclasses.fields(cls)}
            values["source_vocab"] = VocabRecord(**data["source_vocab"])
            values["target_vocab"] = VocabRecord(**data["target_vocab"])
            values["splits"] = {k: SplitRecord(**v) for k, v in data["splits"].items()}
        except (KeyError, TypeError) as e:
            raise DataError(f"{where}: not a bert2bert manifest ({type(e).__name__}: {e})"
                            ) from None
        return cls(**values)

    def split(self, name: str, where: str) -> SplitRecord:
        if name not in self.splits:
            raise DataError(f"{where}: no split {name!r}; prepared splits: "
                            f"{sorted(self.splits)} (bert2bert prepare --splits)")
        return self.splits[name]


def manifest_path(directory: str) -> str:
    return textfiles.join(directory, MANIFEST)


def read_manifest(directory: Optional[str]) -> Manifest:
    """The manifest of a prepared directory; one line naming the file if it is missing/bad."""
    if not directory:
        raise DataError("task.file_format 'prepared' needs task.data_dir: the directory "
                        "`bert2bert prepare --output` wrote")
    path = manifest_path(directory)
    if not textfiles.isfile(path):
        raise DataError(f"{path}: missing; is {directory} a `bert2bert prepare` output?")
    try:
        data = json.loads(textfiles.read_text(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    return Manifest.from_dict(data, path)


def text_task(task: TaskConfig) -> TaskConfig:
    """The task a prepared task's text came from (for evaluation, which scores strings)."""
    data = read_manifest(task.data_dir).text_task
    try:
        return TaskConfig(**data)
    except TypeError as e:
        raise DataError(f"{manifest_path(task.data_dir)}: text_task: {e}") from None


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with textfiles.open_file(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def vocab_record(vocabulary, tokenization_files) -> VocabRecord:
    """`vocabulary` (a `text.Vocabulary`) fingerprinted: only the files tokenization reads
    (`tokenization_files`: their roles) are hashed; casing as the tokenizer applies it."""
    tokenizer = vocabulary.tokenizer()
    return VocabRecord(
        family=vocabulary.family,
        lowercase=getattr(tokenizer, "lowercase", vocabulary.lowercase),
        sha256={role: sha256_of(path) for role, path in vocabulary.files
                if role in tokenization_files})


def check_run(manifest: Manifest, expected: Dict, where: str) -> None:
    """Raises `DataError` naming the first manifest field whose value is not `expected`'s
    (a dict of field -> the run's value; vocab records compared field by field)."""
    for name, want in expected.items():
        have = getattr(manifest, name)
        pairs = ([(f"{name}.{k}", getattr(have, k), getattr(want, k))
                  for k in ("family", "lowercase", "sha256")]
                 if isinstance(want, VocabRecord) else [(name, have, want)])
        for field, got, run in pairs:
            if got != run:
                raise DataError(f"{where}: prepared with {field}={got!r} but this run has "
                                f"{run!r}; run `bert2bert prepare` again with the run's config")
