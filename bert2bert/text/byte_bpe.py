"""GPT-2 byte-level BPE in the TensorFlow graph (OpenAI `encoder.json` + `vocab.bpe`, or the same
content as Hugging Face `vocab.json` + `merges.txt`).

Exactly OpenAI's `encoder.py`:
1. pre-tokenise with GPT-2's pattern
   `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`
   (`\\s` = Unicode White_Space). RE2 has no look-ahead, so whitespace runs are split one character
   at a time and re-joined: a run followed by text leaves its last character to that text (a
   space joins the next word, any other whitespace stands alone), as the look-ahead does;
2. map each UTF-8 byte to its printable stand-in (GPT-2's `bytes_to_unicode`) and apply the
   merges of `vocab.bpe`: repeatedly take the pair with the lowest merge rank and merge all its
   non-overlapping occurrences, left to right. All words of a batch are merged together in one
   `tf.while_loop` over integer ids (a pair is a hash-table key), each distinct word once.

`<|endoftext|>` written in the input text is plain text (tiktoken's `encode_ordinary`): it is
tokenised like any other characters, never as id 50256.

    >>> tok = GPT2Tokenizer("encoder.json", "vocab.bpe")                  # doctest: +SKIP
    >>> tok.tokenize(["Hello world"])                                     # doctest: +SKIP
    <tf.RaggedTensor [[15496, 995]]>
    >>> tok.detokenize(tok.tokenize(["Hello world"])).numpy()             # doctest: +SKIP
    array([b'Hello world'], dtype=object)
"""
import json
import os

import tensorflow as tf
import tensorflow_text as tf_text

from bert2bert.textfiles import text_lines

from .base import InGraphTokenizer, gfile_opener, read_text
from .special_tokens import resolve_special_tokens

# Unicode White_Space, which is what `\s` means in GPT-2's regex (RE2's `\s` is ASCII only).
_WS = (r"\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}"
       r"\x{205F}\x{3000}")
# GPT-2's alternatives in order; the look-ahead pair `\s+(?!\S)|\s+` becomes "a whitespace run
# that ends the text" or "one whitespace character" (re-joined afterwards, see _join_whitespace).
GPT2_SPLIT_RE2 = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{L}\p{N}" + _WS + r"]+"
                  r"|[" + _WS + r"]+\z|[" + _WS + r"]")
_ONE_WS = "[" + _WS + "]"

_ID_BITS = 20  # ids < 2**20; a pair key is left << 20 | right, a table value rank << 20 | merged
_ID_MASK = (1 << _ID_BITS) - 1
_NO_MERGE = (1 << 62)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table (byte value -> str)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def load_bpe_vocab(path):
    """token -> id from `encoder.json` / `vocab.json`; clear errors naming the file."""
    path = os.fspath(path)
    try:
        vocab = json.loads(read_text(path, "BPE vocabulary (encoder.json / vocab.json)"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a JSON BPE vocabulary ({e})") from None
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError(f"{path}: expected a non-empty JSON object mapping token -> id")
    bad = [k for k, v in vocab.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0]
    if bad:
        raise ValueError(f"{path}: token {bad[0]!r} has id {vocab[bad[0]]!r}, expected an "
                         "integer >= 0")
    if max(vocab.values()) > _ID_MASK:
        raise ValueError(f"{path}: ids above {_ID_MASK} are not supported")
    return vocab


def load_bpe_merges(path):
    """[(left, right)] in rank order from `vocab.bpe` / `merges.txt` ("#version" header optional)."""
    path = os.fspath(path)
    merges = []
    lines = text_lines(path, gfile_opener("BPE merges (vocab.bpe / merges.txt)"))
    for n, line in enumerate(lines):
        if n == 0 and line.startswith("#version"):
            continue
        line = line.rstrip("\r")
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{path}, line {n + 1}: expected two space-separated tokens, "
                             f"got {line[:60]!r}")
        merges.append((parts[0], parts[1]))
    if not merges:
        raise ValueError(f"{path}: no merges found")
    return merges


class BytePairEncoder(tf.Module):
    """The in-graph byte-level BPE engine: strings -> ids of `vocab` (token -> id), and back.

    Args:
      vocab: token (in GPT-2's byte-to-unicode spelling) -> id; must hold all 256 byte tokens.
      merges: [(left, right)] in rank order; every part and result must be in `vocab`.
      vocab_file, merges_file: the files' names, for error messages.
      empty_ids: ids that decode to no text (e.g. RoBERTa's <unk> and <mask>).

    Used by `GPT2Tokenizer` and `RobertaTokenizer`. The tables are graph constants, so a
    SavedModel does not need the files.
    """

    def __init__(self, vocab, merges, vocab_file="<vocab>", merges_file="<merges>",
                 empty_ids=(), name=None):
        super().__init__(name=name)
        byte_encoder = bytes_to_unicode()
        missing = [c for c in byte_encoder.values() if c not in vocab]
        if missing:
            raise ValueError(f"{vocab_file}: not a byte-level BPE vocabulary: the byte token "
                             f"{missing[0]!r} is missing ({len(missing)} of 256 missing)")
        table = {}  # as OpenAI's dict(zip(merges, range(n))): a repeated merge keeps its last rank
        for rank, (a, b) in enumerate(merges):
            for part in (a, b, a + b):
                if part not in vocab:
                    raise ValueError(f"{merges_file}: merge #{rank + 1} ({a!r} {b!r}) uses "
                                     f"{part!r}, which is not in {vocab_file}")
            table[(vocab[a] << _ID_BITS) | vocab[b]] = (rank << _ID_BITS) | vocab[a + b]
        keys, values = list(table), list(table.values())
        self._pairs = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.int64),
                                                tf.constant(values, tf.int64)),
            default_value=tf.constant(_NO_MERGE, tf.int64))
        self._byte_ids = tf.constant([vocab[byte_encoder[b]] for b in range(256)], tf.int64)

        byte_decoder = {c: b for b, c in byte_encoder.items()}
        size = max(vocab.values()) + 1
        id_to_bytes = [b""] * size
        for token, i in vocab.items():
            if all(c in byte_decoder for c in token):
                id_to_bytes[i] = bytes(byte_decoder[c] for c in token)
            else:  # not a byte-level token (e.g. an added special token): its own UTF-8
                id_to_bytes[i] = token.encode("utf-8")
        for i in empty_ids:
            id_to_bytes[i] = b""
        self.vocab_size = size
        # One extra empty entry: id `vocab_size` decodes to nothing (callers map "no text" to it).
        self._id_to_bytes = tf.constant(id_to_bytes + [b""], tf.string)

    def pretokenize(self, strings):
        """GPT-2's pre-tokens: tf.string RaggedTensor [batch, (pre-tokens)]."""
        # regex_split stops at a NUL byte: split a copy where NUL is U+0001 (same length, same
        # character class) and cut the pieces out of the original strings by offset.
        safe = tf.strings.regex_replace(strings, r"\x00", "\x01")
        _, begins, ends = tf_text.regex_split_with_offsets(safe, GPT2_SPLIT_RE2, GPT2_SPLIT_RE2)
        flat = tf.strings.substr(tf.gather(strings, begins.value_rowids()), begins.flat_values,
                                 ends.flat_values - begins.flat_values)
        return _join_whitespace(begins.with_flat_values(flat))

    def encode(self, strings):
        """Ids of each string: int32 RaggedTensor [batch, (ids)]."""
        words = self.pretokenize(strings)
        unique, index = tf.unique(words.flat_values, out_idx=tf.int64)
        merged = self._merge(unique)  # [unique, (ids)]
        per_word = tf.gather(merged, index)  # [words, (ids)]
        return tf.RaggedTensor.from_row_splits(
            tf.cast(per_word.flat_values, tf.int32),
            tf.gather(per_word.row_splits, words.row_splits), validate=False)

    def decode(self, ids):
        """Text of each row of ids (RaggedTensor [batch, (ids)] in [0, vocab_size]; the id
        `vocab_size` is empty text): the tokens' bytes joined, invalid UTF-8 replaced by U+FFFD.
        Returns tf.string [batch]."""
        raw = tf.strings.reduce_join(tf.gather(self._id_to_bytes, ids), axis=1)
        return tf.strings.unicode_transcode(raw, "UTF-8", "UTF-8", errors="replace",
                                            replacement_char=0xFFFD)

    def _merge(self, words):
        """BPE of each word (tf.string [n]): RaggedTensor int64 [n, (ids)]."""
        byte_strings = tf.strings.bytes_split(words)
        byte_values = tf.reshape(tf.io.decode_raw(byte_strings.flat_values, tf.uint8), [-1])
        vals = tf.gather(self._byte_ids, tf.cast(byte_values, tf.int32))
        splits = tf.cast(byte_strings.row_splits, tf.int64)
        num_rows = tf.shape(words, out_type=tf.int64)[0]
        pairs = self._pairs

        def body(vals, splits, _):
            n = tf.shape(vals, out_type=tf.int64)[0]
            row_ids = tf.ragged.row_splits_to_segment_ids(splits, out_type=tf.int64)
            pos = tf.range(n, dtype=tf.int64)
            has_next = pos + 1 < tf.gather(splits[1:], row_ids)
            nxt = tf.concat([vals[1:], tf.zeros_like(vals[:1])], 0)
            found = pairs.lookup(tf.bitwise.left_shift(vals, _ID_BITS) | nxt)
            found = tf.where(has_next, found, _NO_MERGE)
            best = tf.math.unsorted_segment_min(found, row_ids, num_rows)
            match = (found < _NO_MERGE) & tf.equal(found, tf.gather(best, row_ids))
            # Merge non-overlapping occurrences left to right: in a run of consecutive matches
            # (only possible for a pair (x, x) over "x x x"), take the 1st, 3rd, ...
            other = tf.logical_not(match)
            count = tf.cumsum(tf.cast(other, tf.int64))
            other_pos = tf.boolean_mask(pos, other)
            last_other = tf.where(count > 0, tf.gather(other_pos, tf.maximum(count - 1, 0)), -1)
            select = match & tf.equal((pos - last_other) % 2, 1)
            new_vals = tf.where(select, found & _ID_MASK, vals)
            keep = tf.logical_not(tf.concat([tf.zeros_like(select[:1]), select[:-1]], 0))
            lengths = tf.math.unsorted_segment_sum(tf.cast(keep, tf.int64), row_ids, num_rows)
            return (tf.boolean_mask(new_vals, keep),
                    tf.concat([tf.zeros([1], tf.int64), tf.cumsum(lengths)], 0),
                    tf.reduce_any(select))

        vals, splits, _ = tf.while_loop(
            lambda v, s, go: go, body, (vals, splits, tf.constant(True)),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]),
                              tf.TensorShape([])))
        return tf.RaggedTensor.from_row_splits(vals, splits, validate=False)


def _join_whitespace(pieces):
    """Re-joins the one-character whitespace pieces of GPT2_SPLIT_RE2 into GPT-2's pre-tokens.

    A whitespace run followed by text was split into single characters; the last one is either
    already part of the next piece (" word") or must stand alone (e.g. "\\n" before "word"); the
    others form one pre-token, as `\\s+(?!\\S)` matches them.
    """
    flat = pieces.flat_values
    n = tf.shape(flat, out_type=tf.int64)[0]
    row_ids = pieces.value_rowids()
    pos = tf.range(n, dtype=tf.int64)
    first = tf.equal(pos, tf.gather(pieces.row_splits, row_ids))
    last = tf.equal(pos + 1, tf.gather(pieces.row_splits[1:], row_ids))
    single = tf.strings.regex_full_match(flat, _ONE_WS)
    continues = single | tf.equal(tf.strings.substr(flat, 0, 1), " ")
    prev_single = tf.concat([tf.zeros_like(single[:1]), single[:-1]], 0) & ~first
    next_continues = tf.concat([continues[1:], tf.zeros_like(continues[:1])], 0) & ~last
    starts = ~(single & prev_single & next_continues)
    segment = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    count = tf.reduce_sum(tf.cast(starts, tf.int64))
    tokens = tf.strings.unsorted_segment_join(flat, segment, count)
    lengths = tf.math.unsorted_segment_sum(tf.cast(starts, tf.int64), row_ids, pieces.nrows())
    return tf.RaggedTensor.from_row_lengths(tokens, lengths, validate=False)


class GPT2Tokenizer(InGraphTokenizer):
    """In-graph GPT-2 byte-level BPE tokenizer.

    Args:
      vocab_file: OpenAI `encoder.json` or Hugging Face `vocab.json` (token -> id).
      merges_file: OpenAI `vocab.bpe` or Hugging Face `merges.txt`.

    `<|endoftext|>` (50256) is start, end and padding; it is never produced from input text.
    `detokenize` returns the exact original text for ids from `tokenize` (invalid UTF-8 from
    arbitrary id sequences becomes U+FFFD).

    Example:
        >>> tok = GPT2Tokenizer.from_files(encoder_json="encoder.json",
        ...                                vocab_bpe="vocab.bpe")         # doctest: +SKIP
    """

    family = "gpt2"

    def __init__(self, vocab_file, merges_file, name=None):
        vocab_file, merges_file = os.fspath(vocab_file), os.fspath(merges_file)
        vocab = load_bpe_vocab(vocab_file)
        special = resolve_special_tokens("gpt2", vocab, vocab_file)
        merges = load_bpe_merges(merges_file)
        bpe = BytePairEncoder(vocab, merges, vocab_file, merges_file)
        super().__init__(special, bpe.vocab_size, vocab_files=[vocab_file, merges_file],
                         name=name)
        self.bpe = bpe

    @classmethod
    def from_files(cls, encoder_json=None, vocab_bpe=None, vocab_json=None, merges_txt=None):
        """From OpenAI's (`encoder_json`, `vocab_bpe`) or Hugging Face's (`vocab_json`,
        `merges_txt`)."""
        vocab_file = encoder_json or vocab_json
        merges_file = vocab_bpe or merges_txt
        if vocab_file is None or merges_file is None:
            raise ValueError("GPT-2 BPE needs encoder_json + vocab_bpe (OpenAI) or "
                             "vocab_json + merges_txt (Hugging Face)")
        return cls(vocab_file, merges_file)

    def pretokenize(self, strings):
        """GPT-2's pre-tokens (tf.string RaggedTensor), for inspection."""
        return self.bpe.pretokenize(tf.convert_to_tensor(strings, tf.string))

    def _tokenize(self, strings):
        return self.bpe.encode(strings)

    def _detokenize(self, ids):
        return self.bpe.decode(ids)
