"""A vocabulary as a typed value: its tokenizer family, its files and its casing.

    vocab = Vocabulary("bert", {"vocab_txt": "/ckpt/vocab.txt"}, lowercase=True)
    tokenizer = vocab.tokenizer()          # built once per vocabulary, then reused
    data = vocab.to_json("/run")           # paths relative to /run
    same = Vocabulary.from_json(data, "/run")
"""
import dataclasses
import functools
import os
from typing import Dict, Optional, Tuple

from bert2bert import textfiles


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """family: bert | roberta | gpt2 | sentencepiece (`tokenizer_from_files`).
    files: file role (`FILE_KEYS`: vocab_txt, vocab_json, merges_txt, ...) -> path.
    lowercase: BERT only: True uncased, False cased, None inferred from the vocabulary."""

    family: str
    files: Tuple[Tuple[str, str], ...]
    lowercase: Optional[bool] = None

    def __init__(self, family: str, files: Dict[str, str], lowercase: Optional[bool] = None):
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "files", tuple(sorted(dict(files).items())))
        object.__setattr__(self, "lowercase", lowercase)

    @property
    def file_map(self) -> Dict[str, str]:
        return dict(self.files)

    def tokenizer(self):
        """The in-graph tokenizer (`bert2bert.text.InGraphTokenizer`), cached."""
        return _tokenizer(self)

    def moved(self, directory: str) -> "Vocabulary":
        """The same vocabulary with every file's basename under `directory`."""
        return Vocabulary(self.family, {k: textfiles.join(directory, os.path.basename(p))
                                        for k, p in self.files}, self.lowercase)

    def to_json(self, base_dir: str) -> Dict:
        return {"family": self.family, "lowercase": self.lowercase,
                "files": {k: os.path.relpath(p, base_dir) for k, p in self.files}}

    @classmethod
    def from_json(cls, data: Dict, base_dir: str) -> "Vocabulary":
        return cls(data["family"], {k: textfiles.join(base_dir, p)
                                    for k, p in data["files"].items()}, data.get("lowercase"))


@functools.lru_cache(maxsize=16)
def _tokenizer(vocabulary: Vocabulary):
    from bert2bert.text.from_files import FILE_KEYS, tokenizer_from_files

    files = {k: v for k, v in vocabulary.files if k in FILE_KEYS}
    return tokenizer_from_files(vocabulary.family, files, lowercase=vocabulary.lowercase)
