"""`--dist loadgroup` for pytest 9: tests marked `xdist_group(name)` go to ONE xdist worker.

pytest-xdist (3.8) groups by adding "@name" to each marked item's node id on the workers,
through `item._nodeid`, which pytest 9 no longer reads (a node id is `item._id` now): every
test was dealt out alone. This plugin sets the id the scheduler reads, once xdist has had
its turn; with a pytest where xdist's own renaming works it finds the "@" and does nothing.
"""
import pytest


def group_of(item) -> str:
    """"a_b" for an item marked xdist_group("b") and xdist_group("a"); "" when unmarked."""
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in item.iter_markers("xdist_group")}
    return "_".join(sorted(names))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    if not getattr(config.option, "loadgroup", False):  # set on the workers of loadgroup runs
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        group = group_of(item)
        if group and not item.nodeid.endswith(f"@{group}") and hasattr(item, "_id"):
            item._id = coerce_node_id(f"{item.nodeid}@{group}")
