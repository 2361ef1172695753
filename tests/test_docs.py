"""The docstring examples of the public API run (they are documentation that can rot)."""
import doctest
import importlib
import os

import pytest

from tests.helpers import REPO

MODULES = ["bert2bert", "bert2bert.config", "bert2bert.layers.attention",
           "bert2bert.layers.embeddings", "bert2bert.layers.feed_forward", "bert2bert.layers.lm_head",
           "bert2bert.layers.transformer_block", "bert2bert.models.encoder_decoder", "bert2bert.spec",
           "bert2bert.resolve"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(REPO)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0


def test_readme_mentions_the_two_commands():
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    assert "make demo" in text and "make test" in text


def test_every_public_name_resolves():
    import bert2bert

    missing = [name for name in bert2bert.__all__ if getattr(bert2bert, name, None) is None]
    assert not missing and "train" in bert2bert.__all__ and "build_model" in bert2bert.__all__
