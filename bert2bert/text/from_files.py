"""The tokenizer of a family from its vocabulary files (what a checkpoint ships)."""
from .base import InGraphTokenizer
from .byte_bpe import GPT2Tokenizer
from .roberta import RobertaTokenizer
from .sentencepiece import SentencePieceTokenizer
from .special_tokens import FAMILIES
from .wordpiece import WordPieceTokenizer

FILE_KEYS = ("vocab_txt", "encoder_json", "vocab_bpe", "vocab_json", "merges_txt", "dict_txt",
             "spm_model")


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
