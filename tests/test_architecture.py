"""The code's shape, checked: no import cycle between numass's subpackages (imports inside
functions included), files under 600 lines, functions under 80 (docs/architecture.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "numass"
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The absolute module names an Import/ImportFrom node names ([] for other nodes)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if not node.level:
        return [node.module or ""]
    base = module.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return [".".join(base + ([node.module] if node.module else []))]


def subpackage_graph(src: Path = SRC) -> dict[str, set[str]]:
    """{subpackage: subpackages it imports}, every import statement counted wherever it sits
    (module level, inside functions, under TYPE_CHECKING); a top-level module counts as its
    own subpackage."""
    graph: dict[str, set[str]] = {}
    for path in src.rglob("*.py"):
        module = _module_name(path, src)
        if module.count(".") < 1:
            continue
        own = module.split(".")[1]
        graph.setdefault(own, set())
        for node in ast.walk(ast.parse(path.read_text())):
            for name in _imported(node, module, path.name == "__init__.py"):
                parts = name.split(".")
                if parts[0] == "numass" and len(parts) > 1 and parts[1] != own:
                    graph[own].add(parts[1])
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one node (Tarjan), as sorted lists."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    pkg = tmp_path / "numass"
    for sub, body in {"a": "from numass.b import x\n",
                      "b": "def f():\n    from numass.a import y\n", "c": "import numass.a\n"}.items():
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text(body)
    assert find_cycles(subpackage_graph(pkg)) == [["a", "b"]]


def test_no_subpackage_imports_another_in_a_cycle():
    graph = subpackage_graph()
    assert {"theory", "emulator", "compare", "inference", "report"} <= set(graph)
    assert "emulator" not in graph["theory"]
    assert find_cycles(graph) == []


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [f"{path.relative_to(SRC)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]


@pytest.mark.parametrize("limit", [MAX_FILE_LINES])
def test_files_and_functions_are_short(limit):
    files = list(SRC.rglob("*.py"))
    long_files = [f"{p.relative_to(SRC)} ({n} lines)" for p in files
                  if (n := len(p.read_text().splitlines())) > limit]
    long_functions = [f for p in files for f in _long_functions(p)]
    assert long_files == [] and long_functions == []


def private_names_across_modules(src: Path = SRC) -> list[str]:
    """'module: name from other' for each private name (one leading underscore) imported from
    another numass module, or read as an attribute of an imported module (``mod._x``)."""
    found = []
    for path in src.rglob("*.py"):
        tree = ast.parse(path.read_text())
        module = _module_name(path, src)
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("numass"):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.append(f"{module}: {a.name} from {node.module}")
                    aliases[a.asname or a.name] = node.module
            elif isinstance(node, ast.Import):
                aliases.update({a.asname or a.name: a.name for a in node.names
                                if a.name.startswith("numass")})
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                    and node.value.id in aliases):
                found.append(f"{module}: {node.attr} of {node.value.id}")
    return sorted(set(found))


def test_no_private_name_is_used_across_modules():
    assert private_names_across_modules() == []


def test_the_private_name_finder_finds_one(tmp_path):
    pkg = tmp_path / "numass"
    (pkg / "a").mkdir(parents=True)
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from numass.a.y import _helper\n")
    (pkg / "a" / "y.py").write_text("def _helper():\n    pass\n")
    assert private_names_across_modules(pkg) == ["numass.a.x: _helper from numass.a.y"]
