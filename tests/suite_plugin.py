"""Autouse fixtures and hooks for every item of a run: the tests under tests/ AND the
package's doctests (`--doctest-modules` over bert2bert/, see pytest.ini). Registered by
`pytest_plugins` in tests/conftest.py: fixtures of a plugin apply everywhere, those of a
conftest.py only below its folder."""
import itertools
import os
import warnings

import keras
import pytest
import tensorflow as tf
from _pytest.doctest import DoctestItem

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Doctests of the package that fail for a reason in the package itself (tests/ may not
# change bert2bert/): {item name: reason}. strict: a fixed example turns the xfail into a
# failure, so that its line here gets removed.
KNOWN_BROKEN_DOCTESTS = {}


# `make test-fast` (-m "not slow") must stay under 90 s on 2 cores. tests/models/ and
# tests/data/ are being edited by their owners, so their slow tests are marked HERE for now
# (seconds: one test-fast run on 2 shared cores). Move these marks into those files, then
# delete this table. A listed name that matches nothing in a collected file is reported.
SLOW_ELSEWHERE = {
    "tests/models/test_training.py": {
        "test_thirty_fit_steps_lower_the_loss": 22.1, "test_label_smoothing_is_a_model_setting": 2.0},
    "tests/models/test_variants.py": {
        "test_decoding_state_compiles_with_xla": 10.9, "test_custom_sizes_with_different_widths": 0.8,
        "test_share_embeddings_override": 0.8},
    "tests/models/test_sharing.py": {
        "test_save_restore_keeps_the_tie": 3.3, "test_tf_checkpoint_holds_every_variable": 2.5},
    "tests/data/test_features.py": {
        "test_bert_source_and_target_conventions": 2.9,
        "test_gpt2_has_no_source_specials_and_uses_endoftext": 3.9,
        "test_roberta_source_and_bert2gpt_mix": 5.4,
        "test_decoder_only_source_is_a_plain_prefix_in_the_target_vocabulary": 2.4,
        "test_truncation_keeps_the_end_token": 8.6, "test_order_is_kept_across_tokenize_batches": 1.4,
        "test_padding_uses_each_sides_pad_id_and_zero_masks": 2.2,
        "test_static_shapes_pad_to_the_max_and_drop_the_remainder": 1.9,
        "test_bucketing_pads_less_than_static_and_keeps_every_example": 2.8,
        "test_make_dataset_is_deterministic_given_a_seed": 7.9},
    "tests/data/test_builders.py": {"test_wikisplit_acceptance_from_shared_manual_dir": 3.3},
    # The same examples run as doctests of bert2bert/data (--doctest-modules).
    "tests/data/test_docstrings.py": {"test_docstring_examples": 1.5},
}
# Tests of tests/models/ run for every variant (0.5-1 s each): test-fast keeps bert2bert.
FAST_VARIANTS = {"bert2bert"}
VARIANT_FILES = ("tests/models/test_variants.py", "tests/models/test_first_token.py")


def _slow_elsewhere(items):
    seen = {}
    for item in items:
        path = os.path.relpath(str(item.path), REPO).replace(os.sep, "/")
        names = SLOW_ELSEWHERE.get(path)
        if names is not None:
            seen.setdefault(path, set())
            if item.originalname in names:
                seen[path].add(item.originalname)
                item.add_marker(pytest.mark.slow)
        if path in VARIANT_FILES:
            variant = getattr(item, "callspec", None) and item.callspec.params.get("variant")
            if variant and variant not in FAST_VARIANTS:
                item.add_marker(pytest.mark.slow)
    for path, found in seen.items():
        for name in sorted(set(SLOW_ELSEWHERE[path]) - found):
            warnings.warn(f"tests/suite_plugin.py SLOW_ELSEWHERE: no test {name} in {path}")


_KEY_RANGES = itertools.count(1)


@pytest.fixture(autouse=True)
def _own_collective_keys():
    """Each test's MirroredStrategy numbers its collective ops in a range of its own: every
    new strategy of a process starts from the same keys, and TensorFlow aborts when a later
    strategy's op meets an earlier one's under the same key with another shape (TF's own
    tests set this class attribute likewise)."""
    tf.distribute.MirroredStrategy._collective_key_base = 100_000 * next(_KEY_RANGES)
    yield


@pytest.fixture(autouse=True)
def _float32_and_seeded():
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(autouse=True)
def _doctests_run_in_the_repository(request, monkeypatch):
    """The examples name files as a user in the repository would (configs/models/...)."""
    if isinstance(request.node, DoctestItem):
        monkeypatch.chdir(REPO)
    yield


# pytest-xdist (`make test`: -n 2 --dist loadgroup --no-loadscope-reorder): tests are dealt
# out one by one, in collection order, to whichever worker is free. The longest (measured:
# seconds on 2 shared cores) go first, so that neither worker is left with a long one at the
# end. Prefixes of node ids. (Module-scoped fixtures are built once per worker that needs them.)
RUN_FIRST = [
    "tests/training/test_training_runs.py::test_wikisplit_run_from_minilm_via_the_cli",  # 350
    "tests/training/test_run_safety.py",  # 140
    "tests/text/test_unicode.py",  # 125
    "tests/test_demo.py::test_demo_runs_every_stage",  # 100
    "tests/export/test_export.py",  # 90
    "tests/training/test_accumulation.py::test_accumulation_under_mirrored_strategy",  # 57
    "tests/training/test_training_runs.py::test_kill_and_resume",  # 55
    "tests/checkpoints/test_released_hf.py::test_fine_tuning",  # 44
    "tests/checkpoints/test_released_hf.py::test_import_export",  # 37
    "tests/training/test_train_step.py",  # 38
    "tests/training/test_accumulation.py::test_accumulated_run_stopped",  # 38
    "tests/training/test_keep_best.py",  # 40
    "tests/models/test_training.py::test_thirty_fit_steps",  # 40
]


def _ordered(items):
    def rank(item):
        for i, prefix in enumerate(RUN_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(RUN_FIRST)
    items[:] = sorted(items, key=rank)  # stable: the rest keep their order


def pytest_collection_modifyitems(config, items):
    _slow_elsewhere(items)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _ordered(items)
    for item in items:
        if isinstance(item, DoctestItem) and item.name in KNOWN_BROKEN_DOCTESTS:
            item.add_marker(pytest.mark.xfail(reason=KNOWN_BROKEN_DOCTESTS[item.name],
                                              strict=True))
