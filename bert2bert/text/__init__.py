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
from .from_files import FILE_KEYS, tokenizer_from_files
from .special_tokens import (FAMILIES, FAMILY_TOKENS, SpecialTokens, resolve_special_tokens,
                             sentencepiece_special_tokens)
from .vocabulary import Vocabulary
from .wordpiece import WordPieceTokenizer

__all__ = ["FAMILIES", "FAMILY_TOKENS", "FILE_KEYS", "BytePairEncoder", "GPT2Tokenizer",
           "InGraphTokenizer", "RobertaTokenizer", "SentencePieceTokenizer", "SpecialTokens",
           "Vocabulary", "WordPieceTokenizer", "resolve_special_tokens", "sentencepiece_special_tokens",
           "tokenizer_from_files"]
