"""Set-up for every test: float32 policy (also for `auto`) and fixed seeds (tests/suite_plugin.py,
which also serves the package's doctests), two logical CPUs (for MirroredStrategy), and the
session-scoped checkpoint fixtures of tests/fixtures/pytest_plugin.py (one set, built once per
run)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `model.dtype_policy: auto` resolves to float32 in tests on every CPU (the numeric parity
# tests compare float32 results); the decision itself is tested in test_precision.py.
os.environ["BERT2BERT_NATIVE_BF16"] = "0"

import bert2bert  # noqa: E402,F401 - its environment defaults first, as in a user's program
import tensorflow as tf  # noqa: E402

# Two logical CPUs in every test process (before TensorFlow starts its devices), so that
# MirroredStrategy tests run in the process, with its warm caches, instead of a new one.
# Nothing is placed on the second unless a strategy asks for it.
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)

pytest_plugins = ["tests.suite_plugin", "tests.fixtures.pytest_plugin", "tests.xdist_groups"]

# Scripts run in the peer venv (torch, transformers) to make fixtures: never imported here.
collect_ignore_glob = ["fixtures/released/make_*.py"]
