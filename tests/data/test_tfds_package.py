"""`bert2bert.data.tfds`: modules imported one way (no cycle), TFDS used through its public API,
and the base class's override points (files found in a manual_dir or in the downloads)."""
import ast
import os
import types
import zipfile

import pytest

from bert2bert.data import DataFormatError
from tests.data.common import write
from tests.helpers import REPO

PACKAGE = "bert2bert.data.tfds"
FOLDER = os.path.join(REPO, *PACKAGE.split("."))


def modules():
    """{module name: parsed source} of the package's files."""
    found = {}
    for name in sorted(os.listdir(FOLDER)):
        if name.endswith(".py"):
            module = PACKAGE if name == "__init__.py" else f"{PACKAGE}.{name[:-3]}"
            with open(os.path.join(FOLDER, name), encoding="utf-8") as f:
                found[module] = ast.parse(f.read())
    return found


def imports_of(module: str, tree: ast.AST, known) -> set:
    """The package's modules that `module` imports (absolute and relative imports)."""
    package = module if module == PACKAGE else module.rsplit(".", 1)[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        targets.update(n for n in names if n in known and n != module)
    return targets


def test_no_import_cycle():
    trees = modules()
    graph = {m: imports_of(m, tree, trees) for m, tree in trees.items()}
    assert graph[f"{PACKAGE}.registry"] >= {f"{PACKAGE}.wikisplit", f"{PACKAGE}.discofuse"}
    assert f"{PACKAGE}.base" in graph[f"{PACKAGE}.wikisplit"]

    def cycle_from(start, path):
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return path + [nxt]
            if nxt not in path:
                found = cycle_from(start, path + [nxt])
                if found:
                    return found
        return None

    cycles = [c for c in (cycle_from(m, [m]) for m in graph) if c]
    assert not cycles, " -> ".join(cycles[0])


def test_the_cycle_check_sees_relative_imports():
    tree = ast.parse("from . import base\nfrom .sources import SourceFile\n")
    known = {PACKAGE, f"{PACKAGE}.base", f"{PACKAGE}.sources"}
    assert imports_of(f"{PACKAGE}.registry", tree, known) == known


def test_no_private_attributes_of_tfds():
    """Only our own objects (self, cls) are asked for underscore names; TFDS's privates
    (dl_manager._manual_dir, registered._DATASET_REGISTRY) are not used."""
    found = []
    for module, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and \
                    not node.attr.startswith("__") and \
                    not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{module}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.ImportFrom) and "registered" in (node.module or "") + \
                    "".join(a.name for a in node.names):
                found.append(f"{module}:{node.lineno}: imports tensorflow_datasets' registry")
    text = "".join(open(os.path.join(FOLDER, n), encoding="utf-8").read()
                   for n in os.listdir(FOLDER) if n.endswith(".py"))
    for private in ("._manual_dir", "_DATASET_REGISTRY", "_ABSTRACT_DATASET_REGISTRY"):
        if private in text:
            found.append(private)
    assert not found, found


def test_the_old_modules_are_gone():
    for old in ("tfds_builders", "wikisplit_builder", "discofuse_builder"):
        with pytest.raises(ModuleNotFoundError):
            __import__(f"bert2bert.data.{old}")


# ---------------------------------------------------------------- override points of the base

def test_manual_dir_through_the_public_property(tmp_path):
    from bert2bert.data.tfds.base import manual_dir_of

    class Manager:
        def __init__(self, path):
            self.path = path

        @property
        def manual_dir(self):  # as TFDS: AssertionError when not given, missing or empty
            if self.path is None:
                raise AssertionError("Manual directory not enabled.")
            return self.path

    assert manual_dir_of(Manager(None)) is None
    assert manual_dir_of(Manager(tmp_path)) == str(tmp_path)


def test_wikisplit_sources_in_the_downloads(tmp_path):
    from bert2bert.data.tfds import WikiSplit
    train = str(tmp_path / "download_1")  # TFDS names downloads by hash, not by file name
    with zipfile.ZipFile(train, "w") as z:
        z.writestr("train.tsv", "A and B .\tA . <::::> B .\n")
    tune = write(tmp_path / "download_2", "C or D .\tC . <::::> D .\n")
    sources = WikiSplit(data_dir=str(tmp_path / "tfds")).find_downloaded_sources(
        {"train": train, "tune": tune})
    assert {s: repr(f) for s, f in sources.items()} == {"train": f"{train}!train.tsv",
                                                        "tune": tune}


def test_discofuse_sources_in_the_downloaded_zip(tmp_path):
    from bert2bert.data.tfds import DiscoFuse
    path = str(tmp_path / "download")
    with zipfile.ZipFile(path, "w") as z:
        for part in ("sports", "wikipedia"):
            for name in ("train_balanced.tsv", "dev_balanced.tsv", "dev.tsv"):
                z.writestr(f"discofuse_v1/{part}/{name}", "header\n")
    builder = DiscoFuse(data_dir=str(tmp_path / "tfds"))
    sources = builder.find_downloaded_sources({"all": path})
    assert {s: f.member for s, f in sources.items()} == {
        "train": "discofuse_v1/wikipedia/train_balanced.tsv",
        "validation": "discofuse_v1/wikipedia/dev_balanced.tsv"}
    empty = str(tmp_path / "empty")
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(DataFormatError, match="empty: none of"):
        builder.find_downloaded_sources({"all": empty})


def test_split_generators_prefer_the_manual_dir(tmp_path):
    from bert2bert.data.tfds import WikiSplit
    manual = tmp_path / "manual"
    os.makedirs(manual)
    with zipfile.ZipFile(manual / "train.tsv.zip", "w") as z:
        z.writestr("train.tsv", "A and B .\tA . <::::> B .\n")

    def no_download(urls):
        raise AssertionError(f"downloaded {urls}")

    manager = types.SimpleNamespace(manual_dir=str(manual), download=no_download)
    generators = WikiSplit(data_dir=str(tmp_path / "tfds"))._split_generators(manager)
    assert list(generators) == ["train"]
    assert list(generators["train"]) == [
        (1, {"complex_sentence": "A and B .", "simple_sentence": "A . <::::> B ."})]


@pytest.mark.parametrize("name", ["bert2bert.textfiles", f"{PACKAGE}.registry",
                                  f"{PACKAGE}.sources"])
def test_docstring_examples(name):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
