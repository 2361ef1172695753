"""In-graph tokenizers for BERT WordPiece, GPT-2 / RoBERTa byte-level BPE and SentencePiece.

All run inside the TensorFlow graph on core TF and tensorflow-text ops (no `tf.py_function`), so
a SavedModel that contains one serves in stock TF Serving. Every tokenizer is a `tf.Module` with

    tokenize(strings)  -> tf.RaggedTensor int32 [batch, (tokens)]   (no special tokens added)
    detokenize(ids)    -> tf.string [batch]    (start / end / padding ids dropped)
    vocab_size, special_tokens (SpecialTokens), family ("bert", "roberta", "gpt2", "sentencepiece")

Build one from the vocabulary files that come with a checkpoint:

    >>> from bert2bert.text import tokenizer_from_files
    >>> tok = tokenizer_from_files("bert", {"vocab_txt": "vocab.txt"}, lowercase=True)  # doctest: +SKIP
    >>> ids = tok.tokenize(["Hello, world!"])                                           # doctest: +SKIP
    >>> tok.detokenize(ids)                                                              # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'hello , world !'], dtype=object)>
"""
from .base import InGraphTokenizer
from .byte_bpe import BytePairEncoder, GPT2Tokenizer
from .roberta import RobertaTokenizer
from .sentencepiece import SentencePieceTokenizer
from .special_tokens import (FAMILIES, FAMILY_TOKENS, SpecialTokens, resolve_special_tokens,
                             sentencepiece_special_tokens)
from .vocabulary import Vocabulary
from .wordpiece import WordPieceTokenizer

FILE_KEYS = ("vocab_txt", "encoder_json", "vocab_bpe", "vocab_json", "merges_txt", "dict_txt",
             "spm_model")

__all__ = ["FAMILIES", "FAMILY_TOKENS", "FILE_KEYS", "BytePairEncoder", "GPT2Tokenizer",
           "InGraphTokenizer", "RobertaTokenizer", "SentencePieceTokenizer", "SpecialTokens", "Vocabulary",
           "WordPieceTokenizer", "resolve_special_tokens", "sentencepiece_special_tokens",
           "tokenizer_from_files"]


def tokenizer_from_files(family: str, files: dict, lowercase=None) -> InGraphTokenizer:
    """The tokenizer of `family` from a checkpoint's vocabulary files.

    Args:
      family: "bert", "roberta", "gpt2" or "sentencepiece".
      files: paths by key (None values are ignored):
        bert          vocab_txt
        gpt2          encoder_json + vocab_bpe (OpenAI) or vocab_json + merges_txt (Hugging Face)
        roberta       encoder_json + vocab_bpe + dict_txt (fairseq), or vocab_json + merges_txt
                      (Hugging Face, RoBERTa order), or vocab_json (GPT-2 order) + merges_txt +
                      dict_txt
        sentencepiece spm_model
      lowercase: BERT only: True for uncased vocabularies, False for cased, None to infer it
        from the vocabulary (uncased when no ordinary token has an upper-case letter).

    Example:
        >>> tok = tokenizer_from_files("gpt2", {"encoder_json": "encoder.json",
        ...                                     "vocab_bpe": "vocab.bpe"})  # doctest: +SKIP
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown tokenizer family {family!r}; expected one of {FAMILIES}")
    unknown = sorted(set(files) - set(FILE_KEYS))
    if unknown:
        raise ValueError(f"unknown vocabulary file key(s) {unknown}; expected some of {FILE_KEYS}")
    files = {k: v for k, v in files.items() if v is not None}
    if lowercase and family != "bert":
        raise ValueError(f"lowercase=True applies to BERT WordPiece only, not {family!r}")

    def need(*keys):
        missing = [k for k in keys if k not in files]
        if missing:
            raise ValueError(f"{family} tokenizer needs files {list(keys)}; missing {missing} "
                             f"(got {sorted(files)})")

    if family == "bert":
        need("vocab_txt")
        return WordPieceTokenizer(files["vocab_txt"], lowercase=lowercase)
    if family == "sentencepiece":
        need("spm_model")
        return SentencePieceTokenizer(files["spm_model"])
    vocab_key = "encoder_json" if "encoder_json" in files else "vocab_json"
    merges_key = "vocab_bpe" if "vocab_bpe" in files else "merges_txt"
    need(vocab_key, merges_key)
    if family == "gpt2":
        return GPT2Tokenizer(files[vocab_key], files[merges_key])
    if vocab_key == "encoder_json":
        need(vocab_key, merges_key, "dict_txt")
    return RobertaTokenizer(files[vocab_key], files[merges_key], files.get("dict_txt"))
