"""Special tokens per vocabulary family: the one place that says which token is which.

| family        | start           | end             | pad             | unk     | mask     |
|---------------|-----------------|-----------------|-----------------|---------|----------|
| bert          | [CLS]           | [SEP]           | [PAD]           | [UNK]   | [MASK]   |
| roberta       | <s>             | </s>            | <pad>           | <unk>   | <mask>   |
| gpt2          | <|endoftext|>   | <|endoftext|>   | <|endoftext|>   | (none)  | (none)   |
| sentencepiece | from the model's trainer spec (bos / eos / pad / unk ids)                |

BERT's mask token is optional (resolved when present). GPT-2 has one special token, id 50256 in
OpenAI's vocabulary, used as start, end and padding; byte-level BPE never needs an unknown token.

    >>> vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4}
    >>> st = resolve_special_tokens("bert", vocab, "vocab.txt")
    >>> (st.start_id, st.end_id, st.pad_id, st.unk_id)
    (2, 3, 0, 1)
"""
import dataclasses
from typing import Mapping, Optional, Tuple

FAMILIES = ("bert", "roberta", "gpt2", "sentencepiece")


@dataclasses.dataclass(frozen=True)
class SpecialTokens:
    """Ids and strings of a vocabulary's special tokens.

    `start_id` begins a decoder sequence, `end_id` ends one, `pad_id` fills batches; `unk_id` is
    None for byte-level vocabularies (every byte sequence is representable). `mask_id` is set
    where the family has a mask token (BERT, RoBERTa), else None.
    """
    start_id: int
    end_id: int
    pad_id: int
    unk_id: Optional[int]
    start_token: str
    end_token: str
    pad_token: str
    unk_token: Optional[str]
    mask_id: Optional[int] = None
    mask_token: Optional[str] = None

    @property
    def drop_ids(self) -> Tuple[int, ...]:
        """Ids that `detokenize` removes: start, end and padding (distinct, sorted)."""
        return tuple(sorted({self.start_id, self.end_id, self.pad_id}))


@dataclasses.dataclass(frozen=True)
class _FamilyTokens:
    start: str
    end: str
    pad: str
    unk: Optional[str]
    mask: Optional[str]


# The single definition of each family's special token strings.
FAMILY_TOKENS = {
    "bert": _FamilyTokens(start="[CLS]", end="[SEP]", pad="[PAD]", unk="[UNK]", mask="[MASK]"),
    "roberta": _FamilyTokens(start="<s>", end="</s>", pad="<pad>", unk="<unk>", mask="<mask>"),
    "gpt2": _FamilyTokens(start="<|endoftext|>", end="<|endoftext|>", pad="<|endoftext|>",
                          unk=None, mask=None),
}

# fairseq's Dictionary puts these four first (ids 0..3), then dict.txt, then <mask> (RoBERTa).
FAIRSEQ_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
GPT2_END_OF_TEXT = "<|endoftext|>"


def check_family(family: str) -> str:
    """Returns `family` if known, else raises a ValueError listing the known families."""
    if family not in FAMILIES:
        raise ValueError(f"unknown tokenizer family {family!r}; expected one of {FAMILIES}")
    return family


def resolve_special_tokens(family: str, vocab: Mapping[str, int], vocab_file: str) -> SpecialTokens:
    """Looks up `family`'s special token strings in `vocab` (token -> id).

    Raises ValueError naming `vocab_file` and the missing token when a required one is absent
    (the mask token is optional). For "sentencepiece" use `sentencepiece_special_tokens`.
    """
    check_family(family)
    if family == "sentencepiece":
        raise ValueError("sentencepiece special tokens come from the model's trainer spec; "
                         "use sentencepiece_special_tokens()")
    names = FAMILY_TOKENS[family]

    def need(role, token):
        if token is None:
            return None
        if token not in vocab:
            raise ValueError(f"{vocab_file}: the {family} {role} token {token!r} is not in the "
                             f"vocabulary ({len(vocab)} entries); is this a {family} vocabulary?")
        return int(vocab[token])

    mask_id = vocab.get(names.mask) if names.mask is not None else None
    return SpecialTokens(
        start_id=need("start", names.start), end_id=need("end", names.end),
        pad_id=need("padding", names.pad), unk_id=need("unknown", names.unk),
        start_token=names.start, end_token=names.end, pad_token=names.pad, unk_token=names.unk,
        mask_id=None if mask_id is None else int(mask_id),
        mask_token=names.mask if mask_id is not None else None)


def sentencepiece_special_tokens(pieces, unk_id: int, bos_id: int, eos_id: int, pad_id: int,
                                 model_file: str) -> SpecialTokens:
    """Special tokens of a SentencePiece model from its trainer-spec ids (-1 = disabled).

    `pieces` is the model's piece list (id -> string). The end (eos) token is required. A model
    without a pad piece pads with eos; one without bos starts with pad (the T5 convention).
    """
    n = len(pieces)

    def valid(i):
        return i is not None and 0 <= i < n

    if not valid(eos_id):
        raise ValueError(f"{model_file}: the SentencePiece model has no end-of-sequence piece "
                         f"(eos_id={eos_id}); train it with eos_id >= 0")
    pad = pad_id if valid(pad_id) else eos_id
    start = bos_id if valid(bos_id) else pad
    unk = unk_id if valid(unk_id) else None
    return SpecialTokens(
        start_id=start, end_id=eos_id, pad_id=pad, unk_id=unk,
        start_token=pieces[start], end_token=pieces[eos_id], pad_token=pieces[pad],
        unk_token=None if unk is None else pieces[unk])
