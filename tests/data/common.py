"""Shared material for the data tests: tokenizers from ../shared vocabularies, small files."""
import functools
import os
import socket

import pytest

from tests.helpers import shared_path


@functools.lru_cache(maxsize=None)
def _tokenizer(family):
    from bert2bert.text import tokenizer_from_files
    if family == "bert":
        return tokenizer_from_files(
            "bert", {"vocab_txt": shared_path("vocab", "bert-uncased", "vocab.txt")},
            lowercase=True)
    files = {"encoder_json": shared_path("vocab", "gpt2", "encoder.json"),
             "vocab_bpe": shared_path("vocab", "gpt2", "vocab.bpe")}
    if family == "roberta":
        files["dict_txt"] = shared_path("vocab", "roberta", "dict.txt")
    return tokenizer_from_files(family, files)


def bert_tokenizer():
    return _tokenizer("bert")


def gpt2_tokenizer():
    return _tokenizer("gpt2")


def roberta_tokenizer():
    return _tokenizer("roberta")


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(text)
    return str(path)


class NetworkBlocked(OSError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Every socket connection and DNS lookup fails at once (records the attempts)."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[:1])
        raise NetworkBlocked("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts
