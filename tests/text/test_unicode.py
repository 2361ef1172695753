"""Every code point assigned since Unicode 3.2 (Python's `unicodedata.ucd_3_2_0`): characters
whose properties no longer change between the Unicode versions of RE2/ICU (TensorFlow), Python,
Hugging Face `tokenizers` and tiktoken. Newer characters can differ by table version."""
import os
import unicodedata

import pytest

from bert2bert.text import GPT2Tokenizer, WordPieceTokenizer
from tests.helpers import shared_path
from tests.text import reference_bert
from tests.text.common import hf_bert_tokenizer, minilm_dir, tiktoken_gpt2

# Characters whose general category changed after Hugging Face's tables were made: U+166D
# (Po -> So, Unicode 12), U+1734 (Mn -> Mc, Unicode 14), U+1885/U+1886 (Lo -> Mn, Unicode 9).
HF_OLD_CATEGORIES = {0x166D, 0x1734, 0x1885, 0x1886}


@pytest.fixture(scope="module")
def code_points():
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
           and unicodedata.ucd_3_2_0.category(chr(c)) != "Cn"]
    assert len(cps) > 200000
    return cps


@pytest.mark.slow
def test_wordpiece_every_code_point(code_points):
    vocab_txt = os.path.join(minilm_dir(), "vocab.txt")
    tok = WordPieceTokenizer(vocab_txt, lowercase=True)
    with open(vocab_txt, encoding="utf-8") as f:
        vocab = {t: i for i, t in enumerate(f.read().split("\n"))}
    strings = [f"A{chr(c)}b {chr(c)}" for c in code_points]
    ours = tok.tokenize(strings).to_list()
    ref = [reference_bert.tokenize_ids(s, vocab, True) for s in strings]
    assert [hex(c) for c, a, b in zip(code_points, ours, ref) if a != b] == []
    hf = [e.ids for e in hf_bert_tokenizer().encode_batch(strings, add_special_tokens=False)]
    differ = {c for c, a, b in zip(code_points, ours, hf) if a != b}
    assert differ <= HF_OLD_CATEGORIES


@pytest.mark.slow
@pytest.mark.parametrize("context", ["a{c}{c} b{c}", " {c}1{c}  {c}\n", "'{c}s x{c}'s"])
def test_gpt2_every_code_point(code_points, context):
    enc = tiktoken_gpt2()
    tok = GPT2Tokenizer(shared_path("vocab", "gpt2", "encoder.json"),
                        shared_path("vocab", "gpt2", "vocab.bpe"))
    strings = [context.format(c=chr(c)) for c in code_points]
    ours = tok.tokenize(strings).to_list()
    assert [hex(c) for c, s, a in zip(code_points, strings, ours)
            if a != enc.encode_ordinary(s)] == []

