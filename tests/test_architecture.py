"""The house rules: data flows one way (a module imports only from its own floor or below), and
no module of the package is on an import cycle. Both are read from the import statements,
absolute and relative (`from .base import X` in bert2bert/text/), anywhere in a module."""
import ast
import functools
import os

from tests.helpers import REPO

FLOORS = {"errors": 0, "lazy": 0, "ranges": 0, "spec": 0, "grid": 0, "parameters": 0, "atomic": 0,
          "textfiles": 0, "config": 1, "precision": 1, "resolve": 1, "layers": 2, "decoding": 2,
          "metrics": 2, "models": 3, "text": 3, "checkpoints": 4, "data": 4, "factory": 4,
          "training": 5, "evaluation": 5, "export": 6, "demo": 8, "cli": 9}
PACKAGE = os.path.join(REPO, "bert2bert")


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def package_modules() -> dict:
    """{dotted module name: (path, is a package)} for every .py file of bert2bert/."""
    modules = {}
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
                is_package = parts[-1] == "__init__"
                modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imported_names(module: str, is_package: bool, node) -> list:
    """The dotted names one import statement asks for (relative ones made absolute):
    `from a.b import c` asks for the module a.b.c if there is one, else for a.b."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: level 1 is the module's own package
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module
    return [f"{source}.{alias.name}" for alias in node.names] + [source]


def _is_type_checking_block(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@functools.lru_cache(maxsize=None)
def import_graph() -> dict:
    """{module: {package modules it imports}}, from every import statement of the module
    (top level or inside a function; not under `if TYPE_CHECKING:`)."""
    modules = package_modules()

    def resolve(name):  # the package module that `name` is, or lies in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, (path, is_package) in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        targets, todo = set(), [tree]
        while todo:
            node = todo.pop()
            for child in ast.iter_child_nodes(node):
                if _is_type_checking_block(child):
                    continue
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    names = _imported_names(module, is_package, child)
                    if isinstance(child, ast.ImportFrom):
                        # `from a.b import c`: the submodule a.b.c when it exists, else a.b
                        submodules = [n for n in names[:-1] if n in modules]
                        names = submodules if len(submodules) == len(names) - 1 else \
                            submodules + [names[-1]]
                    for name in names:
                        if name and name.split(".")[0] == "bert2bert":
                            target = resolve(name)
                            if target and target != module:
                                targets.add(target)
                todo.append(child)
        graph[module] = targets
    return graph


def import_cycles(graph: dict) -> list:
    """Every strongly connected group of two or more modules, each as one cycle through all
    of its modules when there is one (else the group), sorted."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(start):  # Tarjan's algorithm, iterative
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_one_cycle(graph, group) for group in sorted(groups)]


def _one_cycle(graph, group):
    """A path a -> ... -> a inside `group` (breadth-first from its first module)."""
    start, members = group[0], set(group)
    previous, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if child not in previous:
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    return group


def test_the_graph_reads_relative_and_lazy_imports():
    graph = import_graph()
    assert "bert2bert.text.base" in graph["bert2bert.text.roberta"]  # from .base import ...
    assert "bert2bert.text.wordpiece" in graph["bert2bert.text"]  # from .wordpiece import ...
    assert "bert2bert.textfiles" in graph["bert2bert.cli"]  # inside a function
    assert "bert2bert.errors" in graph["bert2bert.textfiles"]


def test_no_module_imports_from_a_higher_floor():
    graph = import_graph()
    violations, seen = [], set()
    for module, targets in graph.items():
        own = room(module)
        if own == "__init__":
            continue  # bert2bert/__init__.py: the public API, loaded lazily
        seen.add(own)
        for target in targets:
            if room(target) in FLOORS and FLOORS[room(target)] > FLOORS[own]:
                violations.append(f"{module} imports {target}")
    assert seen == set(FLOORS), f"rooms without a floor: {set(FLOORS) ^ seen}"
    assert not violations, violations


def test_no_import_cycle():
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c", "a"]]
    assert import_cycles({"x": {"y"}, "y": set()}) == []
