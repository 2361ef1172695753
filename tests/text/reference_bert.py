"""A plain-Python re-statement of google-research/bert's `tokenization.py` (BasicTokenizer and
WordpieceTokenizer), the reference the in-graph WordPiece is checked against.

One deliberate change: lower-casing is per character (Python 2's `unicode.lower`, which the
original ran on), not Python 3's `str.lower`, which turns a word-final capital sigma into "ς".
"""
import unicodedata


def _is_whitespace(char):
    if char in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    if char in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, do_lower_case):
    out = []
    for char in text:
        cp = ord(char)
        if cp == 0 or cp == 0xFFFD or _is_control(char):
            continue
        out.append(" " if _is_whitespace(char) else char)
    text = "".join(out)
    text = "".join(f" {c} " if _is_chinese_char(ord(c)) else c for c in text)
    words = []
    for token in text.strip().split():
        if do_lower_case:
            token = "".join(c.lower() for c in token)
            token = "".join(c for c in unicodedata.normalize("NFD", token)
                            if unicodedata.category(c) != "Mn")
        current = []
        for char in token:
            if _is_punctuation(char):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(char)
            else:
                current.append(char)
        if current:
            words.append("".join(current))
    return words


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    chars = list(word)
    if len(chars) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(chars):
        end, cur = len(chars), None
        while start < end:
            sub = "".join(chars[start:end])
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        pieces.append(cur)
        start = end
    return pieces


def tokenize_ids(text, vocab, do_lower_case):
    return [vocab[p] for w in basic_tokenize(text, do_lower_case) for p in wordpiece(w, vocab)]
