"""The docstring examples of the package run (they are documentation that can rot): pytest
collects them itself (`--doctest-modules` over bert2bert/, pytest.ini); here, that it does,
and that the public API keeps its examples."""
import configparser
import doctest
import importlib
import os

import pytest

from tests.helpers import REPO

MODULES = ["bert2bert", "bert2bert.config", "bert2bert.layers.attention",
           "bert2bert.layers.embeddings", "bert2bert.layers.feed_forward", "bert2bert.layers.lm_head",
           "bert2bert.layers.transformer_block", "bert2bert.models.encoder_decoder",
           "bert2bert.spec", "bert2bert.resolve",
           "bert2bert.text.special_tokens", "bert2bert.text.wordpiece"]


def test_pytest_runs_the_package_doctests():
    ini = configparser.ConfigParser()
    ini.read(os.path.join(REPO, "pytest.ini"))
    assert "--doctest-modules" in ini["pytest"]["addopts"].split()
    assert "bert2bert" in ini["pytest"]["testpaths"].split()
    assert "ELLIPSIS" in ini["pytest"]["doctest_optionflags"].split()


@pytest.mark.parametrize("name", MODULES)
def test_public_modules_have_examples(name):
    tests = doctest.DocTestFinder().find(importlib.import_module(name))
    assert sum(len(t.examples) for t in tests) > 0, f"{name} has no example"


def test_readme_mentions_the_two_commands():
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    assert "make demo" in text and "make test" in text


def test_every_public_name_resolves():
    import bert2bert

    missing = [name for name in bert2bert.__all__ if getattr(bert2bert, name, None) is None]
    assert not missing and "train" in bert2bert.__all__ and "build_model" in bert2bert.__all__
