"""Fixtures for every test: float32 policy and fixed seeds."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_and_seeded():
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
