"""BERT WordPiece in the TensorFlow graph, with google-research/bert's BasicTokenizer semantics.

Steps, as in the original `tokenization.py`:
1. clean: drop invalid UTF-8 (the original decodes with errors="ignore"), NUL, U+FFFD, control
   characters (category C*: Cc except tab/newline/CR, Cf, Co, Cs, and unassigned code points);
   every whitespace character (tab, newline, CR, category Zs, U+2028/U+2029 on which Python's
   `str.split` also splits) becomes a space;
2. CJK ideographs are words of their own;
3. uncased only: lower-case character by character (no context-dependent final sigma, like Python
   2's `unicode.lower` that the original ran on and Hugging Face's BertNormalizer), NFD, drop
   non-spacing marks (category Mn), i.e. strip accents. Cased vocabularies skip this step;
4. split on spaces and punctuation (the ASCII symbol ranges and category P*), keeping punctuation;
5. a word longer than 100 characters is [UNK]; otherwise greedy longest-match-first WordPiece
   with "##" continuations (tensorflow_text.WordpieceTokenizer); a word with an unmatchable rest
   is [UNK].

Special-token strings in the input ("[CLS]", "[SEP]", ...) are plain text: "[", "cl", "##s", "]".
Unicode tables are RE2's and ICU's (TensorFlow's); they can differ from Python's or Hugging
Face's only for characters added in recent Unicode versions.
"""
import os

import tensorflow as tf
import tensorflow_text as tf_text

from bert2bert.textfiles import BOM, text_lines

from .base import InGraphTokenizer, gfile_opener
from .special_tokens import resolve_special_tokens

MAX_CHARS_PER_WORD = 100

# Characters the original drops: Cc except \t \n \r, Cf, Co, Cs, U+FFFD, and unassigned code
# points (Cn; RE2 has no \p{Cn}, so: in no other category).
_CONTROL = (r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\p{Cf}\p{Co}\p{Cs}\x{FFFD}]"
            r"|[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\p{C}]")
_WHITESPACE = r"[\t\n\r\p{Zs}\x{2028}\x{2029}]"
_CJK = (r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
        r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]")
_PUNCTUATION = r"[!-/:-@\[-`{-~\p{P}]"
_SPLIT = " +|" + _PUNCTUATION + "|" + _CJK
_KEEP = _PUNCTUATION + "|" + _CJK


def load_wordpiece_vocab(path):
    """(tokens by id, token -> id) from a BERT vocab.txt: one token per line, id = line number.

    Tokens are stripped of surrounding whitespace as in the original `load_vocab`; a token that
    occurs twice maps to its last line (like the original's dict).
    """
    return _parse_vocab(_read_lines(path), path)


def _parse_vocab(lines, path):
    tokens = [line.strip() for line in lines]
    if not tokens:
        raise ValueError(f"{os.fspath(path)}: the WordPiece vocabulary is empty")
    return tokens, {t: i for i, t in enumerate(tokens)}


def _read_lines(path):
    """The lines of vocab.txt (local or any tf.io.gfile scheme); a `FileFormatError` names the
    file and line of bytes that are not UTF-8."""
    return list(text_lines(os.fspath(path), _open_gfile))


_open_gfile = gfile_opener("WordPiece vocab.txt")


def _starts_with_bom(path):
    with _open_gfile(path) as f:
        return f.read(len(BOM)) == BOM


def _infer_lowercase(tokens):
    """True when no ordinary token has an upper-case letter (an uncased vocabulary)."""
    for t in tokens:
        if t.startswith("[") and t.endswith("]"):
            continue
        if t != t.lower():
            return False
    return True


class WordPieceTokenizer(InGraphTokenizer):
    """In-graph BERT WordPiece tokenizer (cased or uncased) from a `vocab.txt`.

    Args:
      vocab_file: BERT `vocab.txt` (one token per line; the id is the line number).
      lowercase: True for "uncased" vocabularies (lower-case and strip accents), False for cased
        ones. None infers it: uncased when no ordinary token contains an upper-case letter.

    Example (a toy vocabulary; real ones come with BERT checkpoints):
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
        >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", ",", "world", "##s", "!"]
        >>> _ = open(path, "w").write("\\n".join(words))
        >>> tok = WordPieceTokenizer(path, lowercase=True)
        >>> tok.tokenize(["Héllo, WORLDS!", "hi"]).to_list()
        [[4, 5, 6, 7, 8], [1]]
        >>> tok.detokenize([[2, 4, 6, 7, 3, 0]]).numpy()
        array([b'hello worlds'], dtype=object)
    """

    family = "bert"

    def __init__(self, vocab_file, lowercase=None, name=None):
        vocab_file = os.fspath(vocab_file)
        lines = _read_lines(vocab_file)
        tokens, vocab = _parse_vocab(lines, vocab_file)
        special = resolve_special_tokens("bert", vocab, vocab_file)
        super().__init__(special, len(tokens), vocab_files=[vocab_file], name=name)
        self.vocab_file = vocab_file
        self.lowercase = _infer_lowercase(tokens) if lowercase is None else bool(lowercase)
        self._unk_token = special.unk_token

        if len(vocab) == len(tokens) and lines == tokens and not _starts_with_bom(vocab_file):
            # The file itself initialises the table (and is exported as a SavedModel asset;
            # TensorFlow drops a "\r" before "\n" as `text_lines` does, but keeps a BOM).
            init = tf.lookup.TextFileInitializer(
                vocab_file, key_dtype=tf.string,
                key_index=tf.lookup.TextFileIndex.WHOLE_LINE, value_dtype=tf.int64,
                value_index=tf.lookup.TextFileIndex.LINE_NUMBER)
        else:  # stripped or repeated tokens: the table is a constant of the graph
            keys = list(vocab)
            init = tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.string), tf.constant([vocab[k] for k in keys], tf.int64))
        self._table = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=1)
        self._wordpiece = tf_text.WordpieceTokenizer(
            self._table, suffix_indicator="##",
            max_bytes_per_word=4 * MAX_CHARS_PER_WORD + 1,  # longer words are [UNK] already
            token_out_type=tf.int64, unknown_token=special.unk_token)
        self._id_to_token = tf.constant(tokens, tf.string)

    @classmethod
    def from_files(cls, vocab_txt, lowercase=None):
        """Same as the constructor: `WordPieceTokenizer.from_files("vocab.txt", lowercase=True)`."""
        return cls(vocab_txt, lowercase=lowercase)

    def basic_tokenize(self, strings):
        """Words after BasicTokenizer (clean, CJK, case/accents, whitespace and punctuation):
        tf.string RaggedTensor [batch, (words)]."""
        # Invalid UTF-8 is dropped, like the original's bytes.decode("utf-8", "ignore"):
        # replaced by U+FFFD here, which the cleaning below removes.
        x = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace",
                                         replacement_char=0xFFFD)
        x = tf.strings.regex_replace(x, _CONTROL, "")
        x = tf.strings.regex_replace(x, _WHITESPACE, " ")
        if self.lowercase:
            # Character by character, like Python 2's unicode.lower() (the original's runtime)
            # and Hugging Face's BertNormalizer: no context-dependent final sigma.
            x = tf.strings.regex_replace(x, "\u03a3", "\u03c3")
            x = tf.strings.lower(x, encoding="utf-8")
            x = tf_text.normalize_utf8(x, "NFD")
            x = tf.strings.regex_replace(x, r"\p{Mn}", "")
        return tf_text.regex_split(x, _SPLIT, _KEEP)

    def _tokenize(self, strings):
        words = self.basic_tokenize(strings)
        flat = words.flat_values
        too_long = tf.strings.length(flat, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        flat = tf.where(too_long, tf.constant(self._unk_token), flat)
        pieces = self._wordpiece.tokenize(flat)  # [words, (pieces)]
        ids = tf.RaggedTensor.from_row_splits(
            tf.cast(pieces.flat_values, tf.int32),
            tf.gather(pieces.row_splits, words.row_splits), validate=False)
        return ids

    def _detokenize(self, ids):
        tokens = tf.gather(self._id_to_token, ids)
        text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
        return tf.strings.regex_replace(text, " ##", "")

