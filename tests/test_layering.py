"""The import graph keeps its shape: no cycles, and every arrow points down.

Every import counts, wherever it is written (top of the file, inside a function, under
TYPE_CHECKING): a cycle that only the type checker sees is still a cycle in the design.
The rules are DESIGN.md's between the four packages (only plt_agent imports the others,
and the engine only through its public modules; converters may use `engine.arch` and the
message helpers of `engine.errors`; tools
import none of them), and the layers below inside plt_agent and its agent package.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("plt_agent", "engine", "converters", "tools")
# What a package may import from the other three (None: anything of that package).
ALLOWED = {
    "plt_agent": {
        "engine": {"engine.api", "engine.arch", "engine.errors"},
        "converters": None,
        "tools": None,
    },
    "engine": {},
    "converters": {"engine": {"engine.arch", "engine.errors"}},
    "tools": {},
}
# Layers inside a package, lowest first: a module may import from a lower layer, or from its
# own part of the package (where that part has layers of its own, they apply in turn).
LAYERS = {
    "plt_agent": [
        {"__init__", "errors", "display", "signals"},
        {"liveline"},
        {"config"},
        {"store"},
        {"models"},
        {"hook"},
        {"agent"},
        {"eval", "repl"},
        {"commands"},
        {"cli"},
    ],
    "plt_agent.agent": [
        {"__init__", "outcome", "trajectory", "prompts", "actions", "context", "permissions"},
        {"events"},
        {"run", "profile"},
        {"loop", "wholefile"},
        {"fix", "progress", "demo"},
    ],
}


def modules(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (every import statement in the file)."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {_closest(alias.name, known) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in known else _closest(node.module, known))
        graph[name] = {t for t in targets if t and t != name}
    return graph


def _closest(name: str, known: dict[str, Path]) -> str:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks ALLOWED or LAYERS, as 'a -> b (why)'."""
    bad = []
    for a, targets in sorted(graph.items()):
        for b in sorted(targets):
            why = _package_rule(a, b) or _layer_rule(a, b)
            if why:
                bad.append(f"{a} -> {b} ({why})")
    return bad


def _package_rule(a: str, b: str) -> str:
    pa, pb = a.split(".")[0], b.split(".")[0]
    if pa == pb:
        return ""
    if pb not in ALLOWED[pa]:
        return f"{pa} may not import {pb}"
    allowed = ALLOWED[pa][pb]
    return "" if allowed is None or b in allowed else f"{pa} may use only {sorted(allowed)} of {pb}"


def _layer_rule(a: str, b: str) -> str:
    for package, layers in LAYERS.items():
        prefix = package + "."
        inside = [m == package or m.startswith(prefix) for m in (a, b)]
        if not all(inside):
            continue
        part_a, part_b = (_part(m, package) for m in (a, b))
        if part_a == part_b:
            continue
        level = {name: i for i, layer in enumerate(layers) for name in layer}
        if part_a not in level or part_b not in level:
            return f"{part_a if part_a not in level else part_b} has no layer in {package}"
        if level[part_b] >= level[part_a]:
            return f"{package}: {part_a} is not above {part_b}"
    return ""


def _part(module: str, package: str) -> str:
    rest = module[len(package) + 1 :] if module != package else "__init__"
    return rest.split(".")[0]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_every_arrow_points_down():
    assert upward_arrows(import_graph()) == []


def test_the_checks_see_what_they_should(tmp_path):
    """The checker on a made-up tree: a cycle, an engine import of plt_agent, an upward arrow."""
    files = {
        "plt_agent/__init__.py": "",
        "plt_agent/errors.py": "",
        "plt_agent/config.py": "from plt_agent.errors import X\n",
        "plt_agent/models/__init__.py": "def f():\n    from plt_agent.cli import app\n",
        "plt_agent/cli.py": "from plt_agent.models import load\nfrom engine.graph import build\n",
        "engine/__init__.py": "",
        "engine/graph.py": "if TYPE_CHECKING:\n    import plt_agent.config\n",
        "converters/__init__.py": "",
        "tools/__init__.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["plt_agent.cli", "plt_agent.models"]]
    bad = upward_arrows(graph)
    assert "engine.graph -> plt_agent.config (engine may not import plt_agent)" in bad
    assert any(line.startswith("plt_agent.cli -> engine.graph (plt_agent may use only") for line in bad)
    assert "plt_agent.models -> plt_agent.cli (plt_agent: models is not above cli)" in bad
    assert not any(line.startswith("plt_agent.config ->") for line in bad)
