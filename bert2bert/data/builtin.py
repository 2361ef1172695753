"""Built-in real-language data for smoke runs and the demo: sentence fusion and splitting.

Made on the fly, by fixed rules, from prose every Python install carries: the help texts of
`pydoc_data.topics.topics` (the Python reference manual's topics; PSF licence). Nothing is
downloaded and nothing random is involved, so the same Python version always gives the same
pairs (a different Python version has slightly different help texts, hence different pairs).

How the pairs are made, DiscoFuse-style:

1. Sentences: each topic is cut into paragraphs (blank lines), code and headings are dropped,
   reST emphasis (`*x*`) is removed, paragraphs are cut into sentences. A sentence is kept when it
   has 4-30 words, starts with a capital letter or a quote, ends with ".", is ASCII, holds no
   code-like characters (`` = | < > { } * ` ``...) and is not a "PEP nnn - title" reference.
2. Pairs of consecutive kept sentences A, B (of one topic, not separated by code or a
   heading) are fused: A's final "." is dropped
   and B is attached with the joiner of its leading connective (`CONNECTIVES`, e.g.
   "However, X" -> "A, but x"; "For example, X" -> "A; for example, x"), or with ", and " when
   it has none. B's first word is lower-cased unless it is a name (capitalised inside sentences
   elsewhere in the texts more often than not, e.g. "Python") or an acronym.
3. Single kept sentences that contain exactly one joiner (e.g. "X, but Y.") are split the other
   way ("X. However, Y.") when a clause follows it (`CLAUSE_STARTS`): here the fused side is
   the original text.

kind="fusion": source = the two sentences joined by a space, target = the fused sentence.
kind="split":  source = the fused sentence, target = the two sentences joined by " <::::> "
(WikiSplit's separator).

Paragraphs are assigned to train or validation by a checksum of their text (about 1 in 8 to
validation); validation pairs sharing a sentence with a train pair are dropped, so the splits
share no sentence. Each split has no duplicates.

    >>> pairs = builtin_examples("fusion", "train")
    >>> len(pairs) > 900
    True
    >>> source, target = pairs[0]
    >>> isinstance(source, str) and isinstance(target, str)
    True
"""
import collections
import functools
import hashlib
import os
import re
import zlib
from typing import Dict, List, Optional, Tuple

from bert2bert import textfiles
from bert2bert.data.errors import DataError

KINDS = ("fusion", "split")
SPLITS = ("train", "validation")
SEPARATOR = " <::::> "
MIN_WORDS, MAX_WORDS = 4, 30
VALIDATION_MODULO = 8  # crc32(paragraph) % 8 == 0 -> validation

# Leading phrase of the second sentence -> the joiner that replaces it in the fused sentence.
# Longer phrases first. The last group is also used backwards on single sentences.
CONNECTIVES: Tuple[Tuple[str, str], ...] = (
    ("This means that ", ", which means that "),
    ("This is because ", ", because "),
    ("For example, ", "; for example, "),
    ("For instance, ", "; for instance, "),
    ("In addition, ", "; in addition, "),
    ("In particular, ", "; in particular, "),
    ("Otherwise, ", "; otherwise, "),
    ("Consequently, ", "; consequently, "),
    ("Accordingly, ", "; accordingly, "),
    ("Similarly, ", "; similarly, "),
    ("Instead, ", "; instead, "),
    ("Also, ", "; also, "),
    ("Thus, ", "; thus, "),
    ("Hence, ", "; hence, "),
    ("Note that ", "; note that "),
    ("However, ", ", but "),
    ("Therefore, ", ", so "),
)
DEFAULT_JOINER = ", and "
# Joiners found inside a single sentence -> the leading phrase of the split-off second sentence.
SPLIT_RULES: Tuple[Tuple[str, str], ...] = tuple(
    (joiner, phrase) for phrase, joiner in CONNECTIVES) + ((DEFAULT_JOINER, ""),)
# After ", and" / ", but" / ", so" a single sentence is split only when a clause follows, i.e.
# the next word is one of these (or a quote or a name): "X, but the value is kept." is split,
# "X, but not nested in Y." is not.
CLAUSE_STARTS = frozenset(
    "the a an it this these those they there its their each every all some no any such one "
    "you we he she".split())

_CODE_CHARS = re.compile(r"[`*|<>={}\\~^#@$%&\[\]]|::|\.\.\.|https?:|>>>")
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs|cf|[A-Za-z])\.\s*\S")
_HEADING_RULE = re.compile(r"^[*=\-^~\"#+]{3,}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"A-Z])")
_EMPHASIS = re.compile(r"\*{1,2}([^*\s][^*]*?)\*{1,2}")
_BULLET = re.compile(r"^(\* |- |\d+\. |\(\d+\) )")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
           "\u2014": "-", "\u00a0": " "}


def _paragraphs(text: str) -> List[Optional[str]]:
    """Prose paragraphs of a help text, each on one line; None where code or a heading was."""
    for old, new in _QUOTES.items():
        text = text.replace(old, new)
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if any(_HEADING_RULE.match(line.strip()) for line in lines):
            out.append(None)  # a heading (underlined) or a table
            continue
        if any(line.lstrip().startswith((">>>", "...")) or "::=" in line for line in lines):
            out.append(None)  # code or grammar
            continue
        para = " ".join(line.strip() for line in lines)
        para = _BULLET.sub("", _EMPHASIS.sub(r"\1", para))
        out.append(re.sub(r"\s+", " ", para).strip())
    return out


def _good_sentence(s: str) -> bool:
    words = s.split()
    return (MIN_WORDS <= len(words) <= MAX_WORDS and (s[0].isupper() or s[0] == '"')
            and s.endswith(".") and not s.endswith("..") and s.isascii()
            and not _CODE_CHARS.search(s) and not _ABBREVIATION.search(s)
            and s.count('"') % 2 == 0 and s.count("(") == s.count(")")
            and not s.startswith("PEP "))


@functools.lru_cache(maxsize=1)
def _corpus() -> Tuple[Tuple[Tuple[int, Optional[str]], ...], frozenset]:
    """(runs, names). A run is the prose between two code blocks or headings of one topic:
    (paragraph number, sentence or None if rejected) in text order. Topics in name order."""
    from pydoc_data.topics import topics
    runs, run = [], []
    capital_inside, lower = collections.Counter(), collections.Counter()
    number = 0
    for name in sorted(topics):
        for para in _paragraphs(topics[name]) + [None]:
            if para is None:
                if run:
                    runs.append(tuple(run))
                run = []
                continue
            number += 1
            sentences = _SENTENCE_END.split(para)
            for s in sentences:
                words = s.split()
                for w in words[1:]:
                    w = w.strip("\"'(),.;:")
                    if w[:1].isupper() and w[1:].islower():
                        capital_inside[w] += 1
                    elif w.islower():
                        lower[w] += 1
            run.extend((number, s if _good_sentence(s) else None) for s in sentences)
    names = frozenset(w for w, n in capital_inside.items() if n > lower[w.lower()])
    return tuple(runs), names


def _decapitalize(text: str, names) -> str:
    first = text.split(" ", 1)[0].strip("\"'(),.;:")
    if (not first or not first[0].isupper() or not first[1:].islower() or first in names
            or text.startswith('"')):
        return text
    return text[0].lower() + text[1:]


def _capitalize(text: str) -> str:
    return text[0].upper() + text[1:] if text and text[0].islower() else text


def fuse(first: str, second: str, names=frozenset()) -> str:
    """Two sentences -> one, by the connective rules.

        >>> fuse("Tuples are immutable.", "However, lists can be changed.")
        'Tuples are immutable, but lists can be changed.'
        >>> fuse("The key is looked up.", "The value is returned.")
        'The key is looked up, and the value is returned.'
    """
    head = first[:-1] if first.endswith(".") else first
    for phrase, joiner in CONNECTIVES:
        if second.startswith(phrase):
            rest = second[len(phrase):]
            return head + joiner + (_decapitalize(rest, names) if phrase.endswith(", ")
                                    else rest)
    return head + DEFAULT_JOINER + _decapitalize(second, names)


def _split_single(sentence: str, names=frozenset()) -> Optional[Tuple[str, str]]:
    """A single sentence holding exactly one joiner -> its two sentences, else None."""
    for joiner, phrase in SPLIT_RULES:
        if sentence.count(joiner) != 1:
            continue
        left, right = sentence.split(joiner)
        if joiner.startswith(",") and (left.count(",") or right.count(",")):
            return None  # a list or a parenthetical: not a clause boundary
        if len(left.split()) < 3 or len(right.split()) < 3 or ";" in left or ";" in right:
            return None
        if joiner in (", and ", ", but ", ", so "):
            word = right.split(" ", 1)[0]
            if not (word.lower() in CLAUSE_STARTS or word.startswith('"') or word in names):
                return None
        first = left + "."
        second = phrase + right if phrase else _capitalize(right)
        if not (_good_sentence(first) and _good_sentence(second)):
            return None
        return first, second
    return None


@functools.lru_cache(maxsize=None)
def _all_examples(kind: str) -> Dict[str, Tuple[Tuple[str, str], ...]]:
    runs, names = _corpus()
    by_split: Dict[str, List[Tuple[str, str, str, Tuple[str, ...]]]] = {s: [] for s in SPLITS}
    for run in runs:
        texts: Dict[int, List[str]] = {}
        for number, s in run:
            texts.setdefault(number, []).append(s or "")
        split_of = {number: "validation" if zlib.crc32(" ".join(parts).encode("utf-8"))
                    % VALIDATION_MODULO == 0 else "train" for number, parts in texts.items()}
        for (number, a), (_, b) in zip(run, run[1:]):
            if a and b:
                by_split[split_of[number]].append((a, b, fuse(a, b, names), (a, b)))
        for number, s in run:
            parts = _split_single(s, names) if s else None
            if parts:
                by_split[split_of[number]].append((parts[0], parts[1], s, (s,)))
    train_sentences = {x for *_, used in by_split["train"] for x in used}
    out = {}
    for split in SPLITS:
        seen, pairs = set(), []
        for a, b, fused, used in by_split[split]:
            if split == "validation" and any(x in train_sentences for x in used):
                continue
            pair = (a + " " + b, fused) if kind == "fusion" else (fused, a + SEPARATOR + b)
            if pair[0] in seen:
                continue
            seen.add(pair[0])
            pairs.append(pair)
        out[split] = tuple(pairs)
    return out


def builtin_split(split: str) -> str:
    """The built-in split `split` stands for ("dev" and "test" mean "validation")."""
    split = {"dev": "validation", "test": "validation"}.get(split, split)
    if split not in SPLITS:
        raise DataError(f"unknown built-in data split {split!r}; expected one of {SPLITS}")
    return split


def builtin_examples(kind: str = "fusion", split: str = "train",
                     limit: Optional[int] = None) -> List[Tuple[str, str]]:
    """The (source, target) pairs of `kind` ("fusion" or "split") and `split` ("train" or
    "validation"), in a fixed order; the first `limit` when given."""
    if kind not in KINDS:
        raise DataError(f"unknown built-in data kind {kind!r}; expected one of {KINDS}")
    pairs = list(_all_examples(kind)[builtin_split(split)])
    return pairs if limit is None else pairs[:limit]


def builtin_fingerprint(kind: str = "fusion", split: str = "train") -> str:
    """sha256 (hex, first 16) of the pairs: equal on every machine with the same Python."""
    digest = hashlib.sha256()
    for source, target in builtin_examples(kind, split):
        digest.update(f"{source}\t{target}\n".encode("utf-8"))
    return digest.hexdigest()[:16]


def write_builtin_tsv(path: str, kind: str = "fusion", split: str = "train",
                      limit: Optional[int] = None) -> int:
    """Writes the pairs as UTF-8 TSV with the header `source\\ttarget`; returns the row count.

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "train.tsv")
        >>> write_builtin_tsv(path, limit=3)
        3
        >>> open(path).readline()
        'source\\ttarget\\n'
    """
    pairs = builtin_examples(kind, split, limit)
    textfiles.makedirs(os.path.dirname(textfiles.absolute(path)))
    with textfiles.open_file(path, "wb") as f:
        f.write("".join(["source\ttarget\n"] + [f"{s}\t{t}\n" for s, t in pairs]
                        ).encode("utf-8"))
    return len(pairs)


def write_builtin_task_files(directory: str, kind: str = "fusion") -> Dict[str, str]:
    """Writes `<directory>/builtin_<kind>_{train,validation}.tsv`; returns {split: path}, ready
    for `task.data_files` with file_format "tsv", source_key "source", target_key "target"."""
    files = {}
    for split in SPLITS:
        path = textfiles.join(directory, f"builtin_{kind}_{split}.tsv")
        write_builtin_tsv(path, kind, split)
        files[split] = path
    return files
