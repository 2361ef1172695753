"""featurize / batch_examples / make_dataset: token conventions, truncation, padding, shapes."""
import numpy as np
import pytest
import tensorflow as tf

from bert2bert.config import TaskConfig
from bert2bert.data import (batch_examples, builtin_examples, examples_from_pairs, featurize,
                            make_dataset, pad_ids_of, write_builtin_task_files)
from tests.data.common import bert_tokenizer, gpt2_tokenizer, roberta_tokenizer

PAIRS = [("The cat sat on the mat.", "A cat sat."),
         ("Hello, world! How are you today?", "Hi.")]


def ids(tok, text):
    return tok.tokenize([text])[0].numpy().tolist()


def first(ds):
    inputs, labels = next(iter(ds))
    out = {k: v.numpy().tolist() for k, v in inputs.items()}
    out["labels"] = labels.numpy().tolist()
    return out


def all_examples(ds):
    out = []
    for inputs, labels in ds:
        ex = {k: v.numpy().tolist() for k, v in inputs.items()}
        ex["labels"] = labels.numpy().tolist()
        out.append(ex)
    return out


def test_bert_source_and_target_conventions():
    tok = bert_tokenizer()
    st = tok.special_tokens
    ex = first(featurize(examples_from_pairs(PAIRS), tok, tok, 32, 32))
    x, y = ids(tok, PAIRS[0][0]), ids(tok, PAIRS[0][1])
    assert (st.start_id, st.end_id) == (101, 102)  # [CLS], [SEP]
    assert ex["encoder_token_ids"] == [101] + x + [102]
    assert ex["labels"] == y + [102]
    assert ex["decoder_token_ids"] == [101] + y
    assert ex["decoder_token_ids"] == [101] + ex["labels"][:-1]
    assert ex["encoder_padding_mask"] == [1] * (len(x) + 2)
    assert ex["decoder_padding_mask"] == [1] * (len(y) + 1)


def test_gpt2_has_no_source_specials_and_uses_endoftext():
    tok = gpt2_tokenizer()
    ex = first(featurize(examples_from_pairs(PAIRS), tok, tok, 32, 32))
    x, y = ids(tok, PAIRS[0][0]), ids(tok, PAIRS[0][1])
    assert ex["encoder_token_ids"] == x
    assert ex["labels"] == y + [50256]
    assert ex["decoder_token_ids"] == [50256] + y


def test_roberta_source_and_bert2gpt_mix():
    rob, gpt, bert = roberta_tokenizer(), gpt2_tokenizer(), bert_tokenizer()
    ex = first(featurize(examples_from_pairs(PAIRS), rob, rob, 32, 32))
    assert ex["encoder_token_ids"] == [0] + ids(rob, PAIRS[0][0]) + [2]  # <s> x </s>
    assert ex["decoder_token_ids"][0] == 0 and ex["labels"][-1] == 2
    ex = first(featurize(examples_from_pairs(PAIRS), bert, gpt, 32, 32))  # bert2gpt
    assert ex["encoder_token_ids"][0] == 101 and ex["labels"] == ids(gpt, PAIRS[0][1]) + [50256]


def test_decoder_only_source_is_a_plain_prefix_in_the_target_vocabulary():
    gpt, bert = gpt2_tokenizer(), bert_tokenizer()
    ex = first(featurize(examples_from_pairs(PAIRS), None, gpt, 32, 32, decoder_only=True))
    assert ex["encoder_token_ids"] == ids(gpt, PAIRS[0][0])
    assert pad_ids_of(None, gpt, decoder_only=True) == (50256, 50256)
    with pytest.raises(ValueError, match="must use the target vocabulary"):
        featurize(examples_from_pairs(PAIRS), bert, gpt, 32, 32, decoder_only=True)


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_truncation_keeps_the_end_token(family):
    tok = bert_tokenizer() if family == "bert" else gpt2_tokenizer()
    st = tok.special_tokens
    long_text = " ".join(["sentence"] * 50)
    ex = first(featurize(examples_from_pairs([(long_text, long_text)]), tok, tok, 10, 6))
    x = ids(tok, long_text)
    if family == "bert":
        assert ex["encoder_token_ids"] == [101] + x[:8] + [102]
    else:
        assert ex["encoder_token_ids"] == x[:10]
    assert len(ex["labels"]) == len(ex["decoder_token_ids"]) == 6
    assert ex["labels"] == x[:5] + [st.end_id]
    assert ex["decoder_token_ids"] == [st.start_id] + x[:5]
    # a target that fits exactly (max - 1 tokens) keeps all of it
    y = " ".join(["sentence"] * 5)
    n = len(ids(tok, y))
    ex = first(featurize(examples_from_pairs([("a", y)]), tok, tok, 10, n + 1))
    assert ex["labels"] == ids(tok, y) + [st.end_id]


def test_bad_lengths_are_refused():
    tok = bert_tokenizer()
    with pytest.raises(ValueError, match="max_source_length=2 leaves no room"):
        featurize(examples_from_pairs(PAIRS), tok, tok, 2, 8)
    with pytest.raises(ValueError, match="max_target_length=0"):
        featurize(examples_from_pairs(PAIRS), tok, tok, 8, 0)


def test_order_is_kept_across_tokenize_batches():
    tok = bert_tokenizer()
    pairs = [(f"number {i}", f"n {i}") for i in range(300)]
    got = all_examples(featurize(examples_from_pairs(pairs), tok, tok, 16, 16, tokenize_batch=7))
    assert len(got) == 300
    for i in (0, 6, 7, 150, 299):
        assert got[i]["encoder_token_ids"] == [101] + ids(tok, f"number {i}") + [102]


def test_padding_uses_each_sides_pad_id_and_zero_masks():
    bert, gpt = bert_tokenizer(), gpt2_tokenizer()  # pads 0 and 50256
    feats = featurize(examples_from_pairs(PAIRS), bert, gpt, 32, 32)
    inputs, labels = next(iter(batch_examples(feats, 2, 32, 32, pad_ids_of(bert, gpt))))
    enc, enc_mask = inputs["encoder_token_ids"].numpy(), inputs["encoder_padding_mask"].numpy()
    dec, dec_mask = inputs["decoder_token_ids"].numpy(), inputs["decoder_padding_mask"].numpy()
    labels = labels.numpy()
    assert enc.dtype == np.int32 and labels.dtype == np.int32
    n_src = [len(ids(bert, s)) + 2 for s, _ in PAIRS]
    n_tgt = [len(ids(gpt, t)) + 1 for _, t in PAIRS]
    assert enc.shape == (2, max(n_src)) and dec.shape == labels.shape == (2, max(n_tgt))
    for row in range(2):
        assert enc_mask[row].tolist() == [1] * n_src[row] + [0] * (max(n_src) - n_src[row])
        assert dec_mask[row].tolist() == [1] * n_tgt[row] + [0] * (max(n_tgt) - n_tgt[row])
        assert (enc[row][n_src[row]:] == 0).all()
        assert (dec[row][n_tgt[row]:] == 50256).all() and (labels[row][n_tgt[row]:] == 50256).all()
    # the shorter source row really is padded (this test would miss a wrong pad id otherwise)
    assert min(n_src) < max(n_src) and min(n_tgt) < max(n_tgt)


def _builtin_features(n=600, max_len=64):
    tok = bert_tokenizer()
    pairs = builtin_examples("fusion", "train", limit=n)
    return tok, featurize(examples_from_pairs(pairs), tok, tok, max_len, max_len), len(pairs)


def test_static_shapes_pad_to_the_max_and_drop_the_remainder():
    tok, feats, n = _builtin_features(n=100)
    batches = list(batch_examples(feats, 16, 64, 64, (0, 0), static_shapes=True))
    assert len(batches) == n // 16
    spec = batch_examples(feats, 16, 64, 64, (0, 0), static_shapes=True).element_spec
    assert spec[0]["encoder_token_ids"].shape.as_list() == [16, 64]
    assert spec[1].shape.as_list() == [16, 64]
    for inputs, labels in batches:
        assert inputs["encoder_token_ids"].shape == (16, 64)
        assert inputs["decoder_padding_mask"].shape == labels.shape == (16, 64)
    dynamic = list(batch_examples(feats, 16, 64, 64, (0, 0)))
    assert len(dynamic) == -(-n // 16)  # the remainder is kept without static shapes
    assert dynamic[-1][1].shape[0] == n % 16


def _pad_count(batches):
    total = 0
    for inputs, labels in batches:
        total += int(tf.size(inputs["encoder_padding_mask"])
                     - tf.reduce_sum(inputs["encoder_padding_mask"]))
        total += int(tf.size(inputs["decoder_padding_mask"])
                     - tf.reduce_sum(inputs["decoder_padding_mask"]))
    return total


def test_bucketing_pads_less_than_static_and_keeps_every_example():
    tok, feats, n = _builtin_features(n=600)
    static = list(batch_examples(feats, 16, 64, 64, (0, 0), static_shapes=True))
    plain = list(batch_examples(feats, 16, 64, 64, (0, 0)))
    bucketed = list(batch_examples(feats, 16, 64, 64, (0, 0), bucket_boundaries="auto"))
    assert sum(int(b[1].shape[0]) for b in bucketed) == n
    assert _pad_count(bucketed) < _pad_count(plain) < _pad_count(static)
    # the same examples come out, regrouped
    def rows(batches):
        return sorted(tuple(x[m == 1].tolist()) for inputs, _ in batches
                      for x, m in zip(inputs["encoder_token_ids"].numpy(),
                                      inputs["encoder_padding_mask"].numpy()))
    assert rows(bucketed) == rows(plain)
    with pytest.raises(ValueError, match="bucket_boundaries does not apply"):
        batch_examples(feats, 16, 64, 64, (0, 0), static_shapes=True, bucket_boundaries="auto")
    with pytest.raises(ValueError, match="increasing positive"):
        batch_examples(feats, 16, 64, 64, (0, 0), bucket_boundaries=[8, 8, 16])


def test_make_dataset_is_deterministic_given_a_seed(tmp_path):
    files = write_builtin_task_files(str(tmp_path), "fusion")
    task = TaskConfig(name="builtin", file_format="tsv", data_files=files, max_source_length=48,
                      max_target_length=48)
    tok = bert_tokenizer()

    def take(seed, n=3):
        ds = make_dataset(task, "train", tok, tok, 8, training=True, seed=seed,
                          shuffle_buffer=256)
        return [b[0]["encoder_token_ids"].numpy().tolist() for b in ds.take(n)]

    a, b, c = take(7), take(7), take(8)
    assert a == b and a != c
    evaluation = make_dataset(task, "validation", tok, tok, 8)  # no shuffle, no repeat
    n = sum(int(batch[1].shape[0]) for batch in evaluation)
    assert n == len(builtin_examples("fusion", "validation"))
    first_src = next(iter(evaluation))[0]["encoder_token_ids"][0].numpy()
    expected = [101] + ids(tok, builtin_examples("fusion", "validation")[0][0])[:46] + [102]
    assert first_src[first_src != 0].tolist() == expected


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["dynamic", "static", "buckets"])
def test_keep_text_keeps_each_examples_strings_beside_its_ids(mode):
    """Evaluation scores the strings that came with the ids it decoded: same batch, same row,
    whatever the batching (so nothing is read twice and lined up by position)."""
    tok = bert_tokenizer()
    pairs = [(f"source number {i} " + "word " * (i % 7), f"target {i}") for i in range(23)]
    features = featurize(examples_from_pairs(pairs), tok, tok, 24, 16, keep_text=True)
    batches = batch_examples(features, 5, 24, 16, pad_ids_of(tok, tok),
                             static_shapes=mode == "static", drop_remainder=False,
                             bucket_boundaries=[6, 9] if mode == "buckets" else None)
    seen = 0
    for inputs, labels in batches:
        for row, (source, target) in enumerate(zip(inputs["source_text"].numpy(),
                                                   inputs["target_text"].numpy())):
            n = int(inputs["encoder_padding_mask"][row].numpy().sum())
            assert inputs["encoder_token_ids"][row, 1:n - 1].numpy().tolist() == ids(
                tok, source.decode())
            m = int(inputs["decoder_padding_mask"][row].numpy().sum())
            assert labels[row, :m - 1].numpy().tolist() == ids(tok, target.decode())
            seen += 1
    assert seen == (20 if mode == "static" else 23)  # static shapes keep full batches only
