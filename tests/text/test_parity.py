"""Parity on all 20,000 WikiSplit strings (tune + validation, both columns) against the
reference tokenizers: Hugging Face `tokenizers` for WordPiece, tiktoken for GPT-2 BPE."""
import os
import time

import pytest
import tensorflow as tf

from bert2bert.text import GPT2Tokenizer, RobertaTokenizer, WordPieceTokenizer
from tests.helpers import shared_path
from tests.text.common import (fairseq_map, hf_bert_tokenizer, minilm_dir, tiktoken_gpt2,
                               wikisplit_strings)

pytestmark = pytest.mark.slow
TIME_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def strings():
    s = wikisplit_strings()
    assert len(s) == 20000
    return s


@pytest.fixture(scope="module")
def gpt2_ids(strings):
    tok = GPT2Tokenizer(shared_path("vocab", "gpt2", "encoder.json"),
                        shared_path("vocab", "gpt2", "vocab.bpe"))
    return tok, tok.tokenize(strings)


def _report(name, ours, ref, strings):
    bad = [i for i, (a, b) in enumerate(zip(ours, ref)) if a != b]
    rate = 1 - len(bad) / len(strings)
    print(f"{name}: {len(strings) - len(bad)}/{len(strings)} identical ({100 * rate:.3f}%)")
    return [(strings[i], ours[i], ref[i]) for i in bad[:3]]


def test_wordpiece_matches_hf_tokenizers_on_wikisplit(strings):
    hf = hf_bert_tokenizer()
    tok = WordPieceTokenizer(os.path.join(minilm_dir(), "vocab.txt"), lowercase=True)
    start = time.perf_counter()
    ours = tok.tokenize(strings).to_list()
    elapsed = time.perf_counter() - start
    ref = [e.ids for e in hf.encode_batch(strings, add_special_tokens=False)]
    assert len(ours) == len(ref) == 20000
    assert _report("WordPiece vs tokenizers", ours, ref, strings) == []
    assert sum(map(len, ours)) > 500000
    assert elapsed < TIME_LIMIT_S


def test_gpt2_matches_tiktoken_on_wikisplit(strings, gpt2_ids):
    enc = tiktoken_gpt2()
    _, ids = gpt2_ids
    ours = ids.to_list()
    ref = enc.encode_ordinary_batch(strings)
    assert len(ours) == len(ref) == 20000
    assert _report("GPT-2 BPE vs tiktoken", ours, ref, strings) == []
    assert sum(map(len, ours)) > 500000


def test_gpt2_round_trip_on_wikisplit(strings, gpt2_ids):
    tok, ids = gpt2_ids
    start = time.perf_counter()
    again = tok.tokenize(strings)
    text = tok.detokenize(again).numpy()
    elapsed = time.perf_counter() - start
    assert again.to_list() == ids.to_list()  # deterministic
    bad = [s for s, t in zip(strings, text) if t.decode("utf-8") != s]
    assert bad == []
    assert elapsed < TIME_LIMIT_S


def test_roberta_on_wikisplit(strings, gpt2_ids):
    _, gpt2 = gpt2_ids
    tok = RobertaTokenizer(shared_path("vocab", "gpt2", "encoder.json"),
                           shared_path("vocab", "gpt2", "vocab.bpe"),
                           shared_path("vocab", "roberta", "dict.txt"))
    mapping = fairseq_map(shared_path("vocab", "roberta", "dict.txt"))
    ids = tok.tokenize(strings)
    expected = [[mapping.get(i, 3) for i in row] for row in gpt2.to_list()]
    assert _report("RoBERTa vs mapped GPT-2", ids.to_list(), expected, strings) == []
    text = tok.detokenize(ids).numpy()
    assert [s for s, t in zip(strings, text) if t.decode("utf-8") != s] == []
    # ids inside one graph function too (the in-graph mapping)
    graph = tf.function(lambda s: tok.tokenize(s).to_tensor(default_value=-1))
    head = graph(tf.constant(strings[:2000])).numpy()
    assert [[i for i in row if i >= 0] for row in head.tolist()] == expected[:2000]
