"""RoBERTa's tokenizer in the TensorFlow graph: GPT-2 byte-level BPE, then fairseq's ids.

fairseq form (`encoder.json` + `vocab.bpe` + `dict.txt`): `<s>`=0, `<pad>`=1, `</s>`=2,
`<unk>`=3, then the i-th line of `dict.txt` ("GPT2_BPE_ID COUNT") gets id 4+i, then `<mask>`
(as fairseq's RoBERTa adds it). A GPT-2 id that `dict.txt` lacks becomes `<unk>`. The mapping is
a gather on a dense id map inside the graph, and its inverse serves `detokenize`.

Hugging Face form (`vocab.json` already in RoBERTa's id order + `merges.txt`): the BPE produces
RoBERTa ids directly.

`detokenize` drops `<s>`, `</s>`, `<pad>`; `<unk>`, `<mask>` and dict.txt entries that are not
GPT-2 ids (fairseq's "madeupword" fillers) become empty text.

    >>> tok = RobertaTokenizer.from_files(encoder_json="encoder.json", vocab_bpe="vocab.bpe",
    ...                                   dict_txt="dict.txt")          # doctest: +SKIP
    >>> tok.tokenize(["Hello world"])                                   # doctest: +SKIP
    <tf.RaggedTensor [[31414, 232]]>
"""
import os

import tensorflow as tf

from bert2bert.textfiles import text_lines

from .base import InGraphTokenizer, gfile_opener
from .byte_bpe import BytePairEncoder, load_bpe_merges, load_bpe_vocab
from .special_tokens import FAIRSEQ_SPECIALS, FAMILY_TOKENS, resolve_special_tokens


def load_fairseq_dict(path):
    """Symbols of a fairseq `dict.txt` in order (fairseq's own parsing rules: "<symbol> <count>"
    with an optional "#fairseq:overwrite" flag; a repeated symbol without the flag is an error)."""
    path = os.fspath(path)
    symbols, seen = [], set(FAIRSEQ_SPECIALS)
    for n, line in enumerate(text_lines(path, gfile_opener("fairseq dict.txt"))):
        line = line.rstrip()
        if not line:
            continue
        word, _, field = line.rpartition(" ")
        overwrite = field == "#fairseq:overwrite"
        if overwrite:
            word, _, field = word.rpartition(" ")
        if not word or not field.isdigit():
            raise ValueError(f"{path}, line {n + 1}: expected '<symbol> <count>', got {line[:60]!r}")
        if word in seen:
            if overwrite:
                continue  # fairseq keeps the existing id
            raise ValueError(f"{path}, line {n + 1}: duplicate symbol {word!r} (fairseq needs "
                             "'#fairseq:overwrite' for that)")
        seen.add(word)
        symbols.append(word)
    if not symbols:
        raise ValueError(f"{path}: the fairseq dictionary is empty")
    return symbols


class RobertaTokenizer(InGraphTokenizer):
    """In-graph RoBERTa tokenizer (byte-level BPE with fairseq ids).

    Args:
      vocab_file: `encoder.json` (GPT-2 ids; needs `dict_file`) or Hugging Face RoBERTa
        `vocab.json` (RoBERTa ids; no `dict_file`).
      merges_file: `vocab.bpe` / `merges.txt`.
      dict_file: fairseq `dict.txt` mapping GPT-2 ids to RoBERTa ids, or None for the HF form.

    Example:
        >>> tok = RobertaTokenizer("encoder.json", "vocab.bpe", "dict.txt")  # doctest: +SKIP
        >>> tok.special_tokens.start_id, tok.special_tokens.end_id            # doctest: +SKIP
        (0, 2)
    """

    family = "roberta"

    def __init__(self, vocab_file, merges_file, dict_file=None, name=None):
        vocab_file, merges_file = os.fspath(vocab_file), os.fspath(merges_file)
        bpe_vocab = load_bpe_vocab(vocab_file)
        merges = load_bpe_merges(merges_file)
        files = [vocab_file, merges_file]
        if dict_file is None:  # Hugging Face: vocab.json is already in RoBERTa's order
            special = resolve_special_tokens("roberta", bpe_vocab, vocab_file)
            empty = [i for i in (special.unk_id, special.mask_id) if i is not None]
            bpe = BytePairEncoder(bpe_vocab, merges, vocab_file, merges_file, empty_ids=empty)
            size = bpe.vocab_size
            to_roberta = to_gpt2 = None
        else:
            dict_file = os.fspath(dict_file)
            files.append(dict_file)
            bpe = BytePairEncoder(bpe_vocab, merges, vocab_file, merges_file)
            symbols = load_fairseq_dict(dict_file)
            names = list(FAIRSEQ_SPECIALS) + symbols + [FAMILY_TOKENS["roberta"].mask]
            special = resolve_special_tokens("roberta", {s: i for i, s in enumerate(names)},
                                             dict_file)
            size = len(names)
            unk = special.unk_id
            to_roberta = [unk] * bpe.vocab_size
            to_gpt2 = [-1] * size
            for i, symbol in enumerate(symbols):
                if symbol.isascii() and symbol.isdigit() and int(symbol) < bpe.vocab_size:
                    to_roberta[int(symbol)] = len(FAIRSEQ_SPECIALS) + i
                    to_gpt2[len(FAIRSEQ_SPECIALS) + i] = int(symbol)
            if to_roberta.count(unk) == bpe.vocab_size:
                raise ValueError(f"{dict_file}: no line maps a GPT-2 id of {vocab_file}; is this "
                                 "a fairseq GPT-2 BPE dictionary?")
            # RoBERTa id -> GPT-2 id; ids without text map to bpe.vocab_size (decodes to "").
            to_gpt2 = [g if g >= 0 else bpe.vocab_size for g in to_gpt2]
        super().__init__(special, size, vocab_files=files, name=name)
        self.bpe = bpe
        self.fairseq = dict_file is not None
        self._gpt2_to_roberta = None if to_roberta is None else tf.constant(to_roberta, tf.int32)
        self._roberta_to_gpt2 = None if to_gpt2 is None else tf.constant(to_gpt2, tf.int32)

    @classmethod
    def from_files(cls, encoder_json=None, vocab_bpe=None, dict_txt=None, vocab_json=None,
                   merges_txt=None):
        """fairseq form: (`encoder_json` or a GPT-2 `vocab_json`) + (`vocab_bpe` or `merges_txt`)
        + `dict_txt`. Hugging Face form: `vocab_json` (RoBERTa order) + `merges_txt`."""
        vocab_file = encoder_json or vocab_json
        merges_file = vocab_bpe or merges_txt
        if vocab_file is None or merges_file is None:
            raise ValueError("RoBERTa needs encoder_json + vocab_bpe + dict_txt (fairseq) or "
                             "vocab_json + merges_txt (Hugging Face)")
        if encoder_json is not None and dict_txt is None:
            raise ValueError(f"{encoder_json}: an OpenAI encoder.json has GPT-2 ids; RoBERTa "
                             "also needs fairseq's dict_txt")
        return cls(vocab_file, merges_file, dict_txt)

    def _tokenize(self, strings):
        ids = self.bpe.encode(strings)
        if self._gpt2_to_roberta is None:
            return ids
        return ids.with_flat_values(tf.gather(self._gpt2_to_roberta, ids.flat_values))

    def _detokenize(self, ids):
        if self._gpt2_to_roberta is None:
            return self.bpe.decode(ids)
        return self.bpe.decode(
            ids.with_flat_values(tf.gather(self._roberta_to_gpt2, ids.flat_values)))
