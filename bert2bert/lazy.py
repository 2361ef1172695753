"""Lazy public names for a package: each is imported from its module on first use.

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"pkg.mod": ["name"]}, globals())
"""
import importlib
from typing import Dict, List


def lazy_exports(package: str, exports: Dict[str, List[str]], namespace: dict):
    """(`__getattr__`, `__dir__`, `__all__`) for `package`, whose public names live in the
    modules of `exports` ({module: [names]}); a loaded name is cached in `namespace`."""
    where = {name: module for module, names in exports.items() for name in names}
    public = sorted(where)

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(list(namespace) + public)

    return __getattr__, __dir__, public
