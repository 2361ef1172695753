"""In-graph tokenizers: references on tricky strings, special tokens, errors, graph mode,
SavedModel export with assets, SentencePiece, the factory."""
import io
import json
import os
import shutil
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from bert2bert.text import (FILE_KEYS, GPT2Tokenizer, RobertaTokenizer, SentencePieceTokenizer,
                            SpecialTokens, WordPieceTokenizer, resolve_special_tokens,
                            tokenizer_from_files)
from bert2bert.text.special_tokens import sentencepiece_special_tokens
from tests.helpers import shared_path
from tests.text import reference_bert
from tests.text.common import (TRICKY, fairseq_map, hf_bert_tokenizer, minilm_dir,
                               tiktoken_gpt2)


def rows(ragged):
    return [list(r) for r in ragged.to_list()]


def texts(tensor):
    return [s.decode("utf-8") for s in tensor.numpy()]


@pytest.fixture(scope="module")
def bert():
    return WordPieceTokenizer(os.path.join(minilm_dir(), "vocab.txt"), lowercase=True)


@pytest.fixture(scope="module")
def gpt2():
    return GPT2Tokenizer(shared_path("vocab", "gpt2", "encoder.json"),
                         shared_path("vocab", "gpt2", "vocab.bpe"))


@pytest.fixture(scope="module")
def roberta():
    return RobertaTokenizer.from_files(encoder_json=shared_path("vocab", "gpt2", "encoder.json"),
                                       vocab_bpe=shared_path("vocab", "gpt2", "vocab.bpe"),
                                       dict_txt=shared_path("vocab", "roberta", "dict.txt"))


def small_vocab(tmp_path, tokens, name="vocab.txt", newline="\n"):
    path = tmp_path / name
    path.write_bytes(newline.join(tokens).encode("utf-8") + newline.encode())
    return str(path)


BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# ---------------------------------------------------------------- special tokens

def test_special_tokens_per_family(bert, gpt2, roberta):
    st = bert.special_tokens
    assert (st.start_token, st.end_token, st.pad_token, st.unk_token) == \
        ("[CLS]", "[SEP]", "[PAD]", "[UNK]")
    assert (st.start_id, st.end_id, st.pad_id, st.unk_id, st.mask_id) == (101, 102, 0, 100, 103)
    st = gpt2.special_tokens
    assert (st.start_id, st.end_id, st.pad_id, st.unk_id) == (50256, 50256, 50256, None)
    assert st.start_token == st.end_token == st.pad_token == "<|endoftext|>"
    st = roberta.special_tokens
    assert (st.start_id, st.pad_id, st.end_id, st.unk_id) == (0, 1, 2, 3)
    assert (st.start_token, st.end_token, st.pad_token, st.unk_token) == \
        ("<s>", "</s>", "<pad>", "<unk>")
    assert st.mask_id == roberta.vocab_size - 1
    assert (bert.family, gpt2.family, roberta.family) == ("bert", "gpt2", "roberta")
    assert (bert.vocab_size, gpt2.vocab_size) == (30522, 50257)


def test_missing_special_token_names_file_and_token(tmp_path):
    path = small_vocab(tmp_path, ["[PAD]", "[UNK]", "[SEP]", "hello"])
    with pytest.raises(ValueError, match=r"vocab\.txt.*start token '\[CLS\]'"):
        WordPieceTokenizer(path, lowercase=True)
    with pytest.raises(ValueError, match=r"my_dict\.txt.*'<unk>'"):
        resolve_special_tokens("roberta", {"<s>": 0, "<pad>": 1, "</s>": 2}, "my_dict.txt")
    with pytest.raises(ValueError, match="unknown tokenizer family"):
        resolve_special_tokens("t5", {}, "x")
    st = resolve_special_tokens("gpt2", {"<|endoftext|>": 7}, "encoder.json")
    assert st.drop_ids == (7,) and st.unk_id is None


def test_sentencepiece_special_token_fallbacks():
    pieces = ["<unk>", "</s>", "a", "b"]
    st = sentencepiece_special_tokens(pieces, unk_id=0, bos_id=-1, eos_id=1, pad_id=-1,
                                      model_file="m.model")
    assert (st.start_id, st.end_id, st.pad_id, st.unk_id) == (1, 1, 1, 0)
    with pytest.raises(ValueError, match="m.model.*end-of-sequence"):
        sentencepiece_special_tokens(pieces, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
                                     model_file="m.model")


# ---------------------------------------------------------------- BERT WordPiece

def test_wordpiece_tricky_strings_match_hf_and_original(bert):
    hf = hf_bert_tokenizer()
    vocab = {t: i for i, t in enumerate(
        open(os.path.join(minilm_dir(), "vocab.txt"), encoding="utf-8").read().split("\n"))}
    ours = rows(bert.tokenize(TRICKY))
    hf_ids = [e.ids for e in hf.encode_batch(TRICKY, add_special_tokens=False)]
    ref_ids = [reference_bert.tokenize_ids(t, vocab, True) for t in TRICKY]
    assert [t for t, a, b in zip(TRICKY, ours, hf_ids) if a != b] == []
    assert [t for t, a, b in zip(TRICKY, ours, ref_ids) if a != b] == []
    assert sum(len(r) for r in ours) > 500  # a non-trivial amount of text was compared


def test_wordpiece_semantics(bert):
    unk = bert.special_tokens.unk_id
    ids = rows(bert.tokenize(["a" * 100, "a" * 101, "Café ΑΣ", "中文", "a\x00b\u200bc"]))
    assert unk not in ids[0] and len(ids[0]) > 1          # 100 characters: word pieces
    assert ids[1] == [unk]                                # 101 characters: [UNK]
    assert texts(bert.detokenize(ids[2:3])) == ["cafe ασ"]  # accents stripped, no final sigma
    assert texts(bert.detokenize(ids[3:4])) == ["中 文"]    # CJK characters are words
    assert texts(bert.detokenize(ids[4:5])) == ["abc"]     # control characters removed
    # Special tokens in text are plain text ("[", "cl", "##s", "]"), not [CLS].
    assert bert.special_tokens.start_id not in rows(bert.tokenize(["[CLS] x"]))[0]
    # Invalid UTF-8 is dropped (the original decodes with errors="ignore").
    assert rows(bert.tokenize(tf.constant([b"ok\xff\xfe"]))) == rows(bert.tokenize(["ok"]))


@pytest.mark.slow
def test_wordpiece_cased(tmp_path):
    path = small_vocab(tmp_path, BERT_SPECIALS + ["Hello", "hello", "é", "e", "##llo", "H", "!"])
    cased = WordPieceTokenizer(path, lowercase=False)
    uncased = WordPieceTokenizer(path, lowercase=True)
    assert not cased.lowercase and uncased.lowercase
    assert WordPieceTokenizer(path).lowercase is False  # inferred: "Hello" has upper case
    assert rows(cased.tokenize(["Hello! é Hé"])) == [[5, 11, 7, 1]]  # "Hé": no "##é"
    assert rows(uncased.tokenize(["Hello! é Hé"])) == [[6, 11, 8, 1]]
    assert texts(cased.detokenize([[2, 10, 9, 3, 0, 0]])) == ["Hllo"]
    vocab = dict((t, i) for i, t in enumerate(BERT_SPECIALS + ["Hello", "hello", "é", "e", "##llo",
                                                               "H", "!"]))
    for text in ["Hello! é Hé", "HÉLLO"]:
        assert rows(cased.tokenize([text]))[0] == reference_bert.tokenize_ids(text, vocab, False)


def test_wordpiece_vocab_with_crlf_and_duplicates(tmp_path):
    path = small_vocab(tmp_path, BERT_SPECIALS + ["x", "y", "x"], newline="\r\n")
    tok = WordPieceTokenizer(path, lowercase=True)  # stripped, last duplicate wins (original)
    assert rows(tok.tokenize(["x y z"])) == [[7, 6, 1]]
    assert tok.vocab_size == 8


def test_wordpiece_detokenize_matches_hf_decode(bert):
    from tokenizers import decoders
    hf = hf_bert_tokenizer()
    hf.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    strings = ["unaffable runnings, worthwhile!", "Héllo wörld 中文", "don't stop"]
    ids = bert.tokenize(strings)
    assert texts(bert.detokenize(ids)) == hf.decode_batch(rows(ids))
    # start/end/padding dropped, dense input accepted
    dense = tf.constant([[101, 7592, 102, 0, 0]])
    assert texts(bert.detokenize(dense)) == ["hello"]


# ---------------------------------------------------------------- GPT-2 byte-level BPE

@pytest.mark.slow
def test_gpt2_tricky_strings_match_tiktoken(gpt2):
    enc = tiktoken_gpt2()
    ours = rows(gpt2.tokenize(TRICKY))
    ref = [enc.encode_ordinary(t) for t in TRICKY]
    assert [t for t, a, b in zip(TRICKY, ours, ref) if a != b] == []
    assert texts(gpt2.detokenize(gpt2.tokenize(TRICKY))) == TRICKY


@pytest.mark.slow
def test_gpt2_whitespace_fuzz_matches_tiktoken(gpt2):
    """Random strings over whitespace, contractions and odd characters: the look-ahead emulation
    and the merge loop against tiktoken."""
    enc = tiktoken_gpt2()
    alphabet = [" ", " ", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u2000",
                "\u3000", "\u1680", "\u2028", "\x1c", "a", "B", "1", "٣", "'", "'", "s", "t",
                "l", "r", "é", "中", "😀", ".", ",", "-", "\u200b", "\x00", "ß", "e\u0301",
                "<|endoftext|>", "aaaa", "0000"]
    rng = np.random.default_rng(0)
    strings = ["".join(rng.choice(alphabet, rng.integers(0, 15))) for _ in range(5000)]
    ours = rows(gpt2.tokenize(strings))
    bad = [s for s, a in zip(strings, ours) if a != enc.encode_ordinary(s)]
    assert bad == []
    assert texts(gpt2.detokenize(gpt2.tokenize(strings))) == strings


def test_gpt2_endoftext_in_text_is_plain_text(gpt2):
    enc = tiktoken_gpt2()
    ids = rows(gpt2.tokenize(["a<|endoftext|>b"]))[0]
    assert 50256 not in ids and ids == enc.encode_ordinary("a<|endoftext|>b")
    assert ids != enc.encode("a<|endoftext|>b", allowed_special="all")
    # 50256 as an id is dropped by detokenize (start = end = pad).
    assert texts(gpt2.detokenize([[50256] + ids + [50256, 50256]])) == ["a<|endoftext|>b"]


def test_gpt2_bytes_and_bad_ids(gpt2):
    ids = gpt2.tokenize(tf.constant([b"ok\xff"]))  # invalid UTF-8 in: byte tokens, no error
    assert rows(ids) == [[482, 187]]  # "ok", byte 0xff (GPT-2's stand-in "\xff" is id 187)
    assert texts(gpt2.detokenize(ids)) == ["ok\ufffd"]
    # the first byte of "中" alone, and ids out of range: replacement character / dropped
    first_byte = rows(gpt2.tokenize(tf.constant([b"\xe4"])))[0]
    assert len(first_byte) == 1
    assert texts(gpt2.detokenize([[31373] + first_byte + [-5, 10 ** 6]])) == ["hello\ufffd"]


@pytest.mark.slow
def test_gpt2_hf_file_names(tmp_path, gpt2):
    shutil.copy(shared_path("vocab", "gpt2", "encoder.json"), tmp_path / "vocab.json")
    lines = open(shared_path("vocab", "gpt2", "vocab.bpe"), encoding="utf-8").read().split("\n")
    (tmp_path / "merges.txt").write_text("\n".join(lines[1:]), encoding="utf-8")  # no header
    hf_form = tokenizer_from_files("gpt2", {"vocab_json": str(tmp_path / "vocab.json"),
                                            "merges_txt": str(tmp_path / "merges.txt")})
    assert isinstance(hf_form, GPT2Tokenizer)
    assert rows(hf_form.tokenize(TRICKY)) == rows(gpt2.tokenize(TRICKY))


# ---------------------------------------------------------------- RoBERTa

@pytest.mark.slow
def test_roberta_ids_are_mapped_gpt2_ids(gpt2, roberta):
    mapping = fairseq_map(shared_path("vocab", "roberta", "dict.txt"))
    ours = rows(roberta.tokenize(TRICKY))
    expected = [[mapping.get(i, 3) for i in r] for r in rows(gpt2.tokenize(TRICKY))]
    assert ours == expected
    assert rows(roberta.tokenize(["Hello world!"])) == [[31414, 232, 328]]  # RoBERTa's real ids
    assert texts(roberta.detokenize(roberta.tokenize(TRICKY))) == TRICKY
    # <s> ... </s> <pad> dropped; <unk>, <mask>, madeupwords and bad ids give no text
    st = roberta.special_tokens
    assert texts(roberta.detokenize(
        [[0, 31414, 3, st.mask_id, roberta.vocab_size - 2, 2, 1, 1, 99999]])) == ["Hello"]


@pytest.mark.slow
def test_roberta_hf_vocab_json_form(tmp_path, roberta):
    encoder = json.load(open(shared_path("vocab", "gpt2", "encoder.json"), encoding="utf-8"))
    mapping = fairseq_map(shared_path("vocab", "roberta", "dict.txt"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({tok: mapping[i] for tok, i in encoder.items() if tok not in vocab})
    vocab["<mask>"] = roberta.vocab_size - 1
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copy(shared_path("vocab", "gpt2", "vocab.bpe"), tmp_path / "merges.txt")
    hf_form = tokenizer_from_files("roberta", {"vocab_json": str(tmp_path / "vocab.json"),
                                               "merges_txt": str(tmp_path / "merges.txt")})
    assert not hf_form.fairseq and roberta.fairseq
    assert hf_form.special_tokens == roberta.special_tokens
    assert hf_form.vocab_size == roberta.vocab_size
    assert rows(hf_form.tokenize(TRICKY)) == rows(roberta.tokenize(TRICKY))
    assert texts(hf_form.detokenize(hf_form.tokenize(TRICKY))) == TRICKY


# ---------------------------------------------------------------- SentencePiece

def _train_spm(tmp_path, **kwargs):
    import sentencepiece as spm
    sentences = [t for t in TRICKY if t.strip()] * 3 + [
        "the quick brown fox jumps over the lazy dog", "warm-started encoder decoder models",
        "sentence fusion and split and rephrase", "machine translation and summarisation"] * 20
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=model,
                                   vocab_size=400, minloglevel=2, hard_vocab_limit=False,
                                   **kwargs)
    path = tmp_path / "spm.model"
    path.write_bytes(model.getvalue())
    return str(path), spm.SentencePieceProcessor(model_proto=model.getvalue())


@pytest.mark.parametrize("ids", [dict(), dict(pad_id=0, unk_id=1, bos_id=2, eos_id=3),
                                 dict(pad_id=0, eos_id=1, unk_id=2, bos_id=-1)])
def test_sentencepiece_matches_the_library(tmp_path, ids):
    path, sp = _train_spm(tmp_path, **ids)
    tok = tokenizer_from_files("sentencepiece", {"spm_model": path})
    assert isinstance(tok, SentencePieceTokenizer) and tok.family == "sentencepiece"
    assert tok.vocab_size == sp.get_piece_size()
    st = tok.special_tokens
    assert st.end_id == sp.eos_id() and st.unk_id == sp.unk_id()
    assert st.pad_id == (sp.pad_id() if sp.pad_id() >= 0 else sp.eos_id())
    assert st.start_id == (sp.bos_id() if sp.bos_id() >= 0 else st.pad_id)
    assert st.end_token == "</s>"
    strings = ["the quick brown fox", "Hello, world! How's it going?", "", "  two  spaces"]
    ours = rows(tok.tokenize(strings))
    assert ours == sp.encode(strings)
    wrapped = [[st.start_id] + r + [st.end_id, st.pad_id] for r in ours]
    assert texts(tok.detokenize(tf.ragged.constant(wrapped))) == sp.decode(ours)


def test_sentencepiece_bad_file(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\xff\xff\xff not a model")
    with pytest.raises(ValueError, match="bad.model.*not a SentencePiece model"):
        SentencePieceTokenizer(str(bad))


# ---------------------------------------------------------------- errors

def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere/vocab.txt"):
        WordPieceTokenizer(str(tmp_path / "nowhere" / "vocab.txt"), lowercase=True)
    (tmp_path / "encoder.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="encoder.json.*not a JSON"):
        GPT2Tokenizer(str(tmp_path / "encoder.json"), shared_path("vocab", "gpt2", "vocab.bpe"))
    (tmp_path / "small.json").write_text(json.dumps({"a": 0, "<|endoftext|>": 1}))
    with pytest.raises(ValueError, match="small.json.*byte token"):
        GPT2Tokenizer(str(tmp_path / "small.json"), shared_path("vocab", "gpt2", "vocab.bpe"))
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\nĠ t\nbad line here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.bpe, line 3"):
        GPT2Tokenizer(shared_path("vocab", "gpt2", "encoder.json"), str(tmp_path / "vocab.bpe"))
    (tmp_path / "unknown.bpe").write_text("#version: 0.2\nĠ t\nzzqq xx\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown.bpe: merge #2 .*not in .*encoder.json"):
        GPT2Tokenizer(shared_path("vocab", "gpt2", "encoder.json"), str(tmp_path / "unknown.bpe"))
    (tmp_path / "dict.txt").write_text("13 100\nnocount\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dict.txt, line 2"):
        RobertaTokenizer(shared_path("vocab", "gpt2", "encoder.json"),
                         shared_path("vocab", "gpt2", "vocab.bpe"), str(tmp_path / "dict.txt"))
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(ValueError, match="latin1.txt.*not valid UTF-8"):
        WordPieceTokenizer(str(tmp_path / "latin1.txt"))


def test_factory(tmp_path, bert):
    vocab_txt = os.path.join(minilm_dir(), "vocab.txt")
    tok = tokenizer_from_files("bert", {"vocab_txt": vocab_txt, "dict_txt": None})
    assert isinstance(tok, WordPieceTokenizer) and tok.lowercase  # inferred uncased
    assert rows(tok.tokenize(TRICKY)) == rows(bert.tokenize(TRICKY))
    with pytest.raises(ValueError, match="unknown vocabulary file key"):
        tokenizer_from_files("bert", {"vocab": vocab_txt})
    with pytest.raises(ValueError, match=r"missing \['vocab_txt'\]"):
        tokenizer_from_files("bert", {})
    with pytest.raises(ValueError, match="unknown tokenizer family"):
        tokenizer_from_files("xlnet", {})
    with pytest.raises(ValueError, match=r"missing \['dict_txt'\]"):
        tokenizer_from_files("roberta", {"encoder_json": "e.json", "vocab_bpe": "v.bpe"})
    with pytest.raises(ValueError, match="lowercase=True applies to BERT"):
        tokenizer_from_files("gpt2", {}, lowercase=True)
    assert set(FILE_KEYS) == {"vocab_txt", "encoder_json", "vocab_bpe", "vocab_json",
                              "merges_txt", "dict_txt", "spm_model"}
    assert isinstance(tok.special_tokens, SpecialTokens)


def test_input_validation(bert):
    with pytest.raises(ValueError, match="batch"):
        bert.tokenize("a single string")
    with pytest.raises(ValueError, match=r"shape \[batch\]"):
        bert.tokenize(tf.constant([["a"]]))
    with pytest.raises(ValueError, match="integer ids"):
        bert.detokenize(tf.constant([[1.0]]))


# ---------------------------------------------------------------- graph mode and SavedModel

@pytest.mark.slow
def test_graph_mode_matches_eager(bert, gpt2, roberta):
    strings = tf.constant(TRICKY)
    for tok in (bert, gpt2, roberta):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def graph(s, tok=tok):
            ids = tok.tokenize(s)
            return ids.to_tensor(default_value=-1), tok.detokenize(ids)

        dense, text = graph(strings)
        eager = tok.tokenize(strings)
        np.testing.assert_array_equal(dense.numpy(), eager.to_tensor(default_value=-1).numpy())
        assert text.numpy().tolist() == tok.detokenize(eager).numpy().tolist()


class _Wrapper(tf.Module):
    """What an export does: a tokenizer inside a module, strings in, ids and strings out."""

    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode(self, strings):
        ids = self.tokenizer.tokenize(strings)
        return {"ids": ids.to_tensor(default_value=-1), "lengths": ids.row_lengths()}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def decode(self, ids):
        return {"text": self.tokenizer.detokenize(ids)}


def _spm_files(tmp_path):
    path, _ = _train_spm(tmp_path)
    return {"spm_model": path}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["bert", "gpt2", "roberta", "sentencepiece"])
def test_saved_model_round_trip_with_assets(tmp_path, family):
    sources = {
        "bert": {"vocab_txt": ("vocab.txt", lambda: os.path.join(minilm_dir(), "vocab.txt"))},
        "gpt2": {"encoder_json": ("encoder.json", lambda: shared_path("vocab", "gpt2", "encoder.json")),
                 "vocab_bpe": ("vocab.bpe", lambda: shared_path("vocab", "gpt2", "vocab.bpe"))},
        "roberta": {"encoder_json": ("encoder.json", lambda: shared_path("vocab", "gpt2", "encoder.json")),
                    "vocab_bpe": ("vocab.bpe", lambda: shared_path("vocab", "gpt2", "vocab.bpe")),
                    "dict_txt": ("dict.txt", lambda: shared_path("vocab", "roberta", "dict.txt"))},
    }
    vocab_dir = tmp_path / "vocab"
    vocab_dir.mkdir()
    if family == "sentencepiece":
        files = _spm_files(vocab_dir)
    else:  # copies, deleted before reloading: the SavedModel must not need them
        files = {}
        for key, (name, source) in sources[family].items():
            shutil.copy(source(), vocab_dir / name)
            files[key] = str(vocab_dir / name)
    tok = tokenizer_from_files(family, files)
    strings = ["Hello, world! It's a test.", "", "Café 中文  two  spaces\n"]
    expected_ids = tok.tokenize(strings).to_tensor(default_value=-1).numpy()
    expected_text = tok.detokenize(tok.tokenize(strings)).numpy()

    export = str(tmp_path / "export")
    tf.saved_model.save(_Wrapper(tok), export)
    shutil.rmtree(vocab_dir)
    assets = sorted(os.listdir(os.path.join(export, "assets")))
    assert assets == sorted(os.path.basename(p) for p in files.values())

    with open(os.path.join(export, "saved_model.pb"), "rb") as f:
        graph = f.read()
    assert b"PyFunc" not in graph  # stock TF Serving cannot run Python ops

    loaded = tf.saved_model.load(export)
    out = loaded.encode(tf.constant(strings))
    np.testing.assert_array_equal(out["ids"].numpy(), expected_ids)
    ids = tf.where(out["ids"] < 0, tok.special_tokens.pad_id, out["ids"])
    assert loaded.decode(ids)["text"].numpy().tolist() == expected_text.tolist()
    if family != "sentencepiece":
        assert [t.decode() for t in expected_text][0].lower().startswith("hello")


def test_sentencepiece_survives_a_cleared_eager_kernel_cache():
    """tensorflow_text's SentencePiece model resource belongs to the eager kernel cache; after
    the cache is cleared (as other TensorFlow work in a long process may do) the tokenizer
    makes it again instead of failing with "Resource ... does not exist"."""
    from tensorflow.python.eager import context

    spm = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "released", "hf",
                       "bert2bert_spm", "spiece.model")
    tok = SentencePieceTokenizer(spm)
    before = tok.tokenize(["It is a small town ."]).to_list()
    context.context().clear_kernel_cache()
    assert tok.tokenize(["It is a small town ."]).to_list() == before
    context.context().clear_kernel_cache()
    assert tok.detokenize(tf.ragged.constant(before)).numpy()[0] == b"It is a small town ."
