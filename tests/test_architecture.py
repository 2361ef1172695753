"""The house rule: data flows one way; a module imports only from its own floor or below."""
import ast
import os

from tests.helpers import REPO

FLOORS = {"errors": 0, "lazy": 0, "grid": 0, "config": 1, "precision": 1, "layers": 2, "decoding": 2, "metrics": 2,
          "models": 3, "text": 3, "checkpoints": 4, "data": 4, "training": 5, "evaluation": 5,
          "export": 6, "demo": 8, "cli": 9}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_module_imports_from_a_higher_floor():
    package = os.path.join(REPO, "bert2bert")
    violations, seen = [], set()
    for root, _, files in os.walk(package):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
            own = room(rel)
            if own == "__init__":
                continue  # bert2bert/__init__.py: the public API, loaded lazily
            seen.add(own)
            tree = ast.parse(open(path, encoding="utf-8").read())
            for node in ast.walk(tree):
                targets = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                for target in targets:
                    if target.startswith("bert2bert.") and room(target) in FLOORS:
                        if FLOORS[room(target)] > FLOORS[own]:
                            violations.append(f"{rel} imports {target}")
    assert seen == set(FLOORS), f"rooms without a floor: {set(FLOORS) ^ seen}"
    assert not violations, violations
