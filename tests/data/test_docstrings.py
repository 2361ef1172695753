"""The docstring examples of the data modules run (they are documentation that can rot)."""
import doctest
import importlib

import pytest

MODULES = ["bert2bert.data", "bert2bert.data.tasks", "bert2bert.data.features",
           "bert2bert.data.builtin", "bert2bert.data.files"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
