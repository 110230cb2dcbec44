"""Finding the file behind a test failure or an issue text, without a model: the navigation
the agent's whole-file strategy does for tiny models.

`candidate_files(workspace, failure)` ranks the repository's source files by: files the
traceback points into (deepest frame first), files that define the identifiers on the
failing lines (assertions weigh double), modules the failing test imports, and the
repository map's ranking for the same text (`repo_map_ranking`).

`issue_candidates(workspace, statement)` does the same for a problem statement (no failing
test to follow): files the text names (by path, file name or dotted module), files defining
the identifiers it names (code-like mentions weigh double), and the repository map's ranking
for the text. Data files the code loads (.json, .ini, .toml, ...) are candidates too; Python
modules without a function or class (a package's re-exporting __init__) only when named.
`usage_snippet` finds where other code uses a candidate (a caller's function, or the code
that opens a data file), to show a model how the file connects to the symptom.

Test files are never candidates. This module knows nothing about models.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from tools.filekinds import is_data, is_source, is_test_file
from tools.workspace import Workspace

MAX_CANDIDATES = 3
_PATH_REF = re.compile(r"(?:File \"([^\"]+)\", line \d+)|(?:^|\s)([\w./-]+\.\w+):\d+", re.MULTILINE)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_DEF = re.compile(
    r"^\s*(?:async\s+)?(?:def|class|function|func|fn|struct|interface|type)\s+([A-Za-z_]\w*)", re.M
)
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w, ()]+)|import\s+([\w.]+))", re.MULTILINE)


def candidate_files(
    workspace: Workspace, failure: str, limit: int = MAX_CANDIDATES, ranked: list[str] | None = None
) -> list[str]:
    """Source files most likely to hold the bug behind `failure` (best first).

    `ranked` is the repository map's order for the same query, used as one more signal."""
    files = [f for f in workspace.files() if is_source(f)]
    sources = [f for f in files if not is_test_file(f)]
    scores = dict.fromkeys(sources, 0.0)
    for rank, path in enumerate(reversed(_referenced_paths(workspace, failure))):
        if path in scores:
            scores[path] += 6.0 / (1 + rank)
    hot = _hot_identifiers(failure)
    for path in sources:
        defined = set(_definitions(workspace, path))
        scores[path] += sum(2.0 if name in hot["assert"] else 1.0 for name in defined & hot["all"])
    for path in _imported_by_tests(workspace, failure, files):
        if path in scores:
            scores[path] += 1.5
    for rank, path in enumerate(ranked or []):
        if path in scores:
            scores[path] += 2.0 / (1 + rank)
    ranked = sorted(sources, key=lambda p: (-scores[p], _size(workspace, p), p))
    chosen = [p for p in ranked if scores[p] > 0][:limit]
    return chosen or ranked[:1]


def _referenced_paths(workspace: Workspace, failure: str) -> list[str]:
    out: list[str] = []
    for match in _PATH_REF.finditer(failure):
        raw = match.group(1) or match.group(2)
        try:
            rel = workspace.relpath(workspace.resolve(raw))
        except Exception:  # outside the repository, or not a path at all
            continue
        if rel not in out and (workspace.root / rel).is_file():
            out.append(rel)
    return out


def _hot_identifiers(failure: str) -> dict[str, set[str]]:
    key_lines = [ln for ln in failure.splitlines() if ln.lstrip().startswith((">", "E ", "assert"))]
    assert_ids = set(_IDENT.findall("\n".join(key_lines)))
    return {"assert": assert_ids, "all": assert_ids | set(_IDENT.findall(failure))}


def _definitions(workspace: Workspace, path: str) -> list[str]:
    try:
        text = workspace.read_text(path)
    except Exception:  # unreadable or binary
        return []
    return _DEF.findall(text)


def _imported_by_tests(workspace: Workspace, failure: str, files: list[str]) -> list[str]:
    tests = [p for p in _referenced_paths(workspace, failure) if is_test_file(p)]
    out: list[str] = []
    for test in tests:
        for m in _IMPORT.finditer(workspace.read_text(test)):
            module = (m.group(1) or m.group(3) or "").replace(".", "/")
            for guess in (
                f"{module}.py",
                f"{module}/__init__.py",
                f"src/{module}.py",
                f"src/{module}/__init__.py",
            ):
                if guess in files and guess not in out:
                    out.append(guess)
    return out


def _size(workspace: Workspace, path: str) -> int:
    try:
        return (workspace.root / path).stat().st_size
    except OSError:
        return 1 << 30


def repo_map_ranking(workspace: Workspace, text: str) -> list[str]:
    """The repository map's file ranking for a failure or a text ([] when the map is unavailable)."""
    from tools.registry import run_tool

    obs = run_tool("repo_map", {"query": text[:4000], "budget_tokens": 64}, workspace)
    return list(obs.data.get("ranked") or []) if obs.ok and obs.data else []


# -- issue texts -------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")
_DOTTED = re.compile(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")
MAX_SNIPPET_LINES = 30


def issue_candidates(
    workspace: Workspace, statement: str, limit: int = MAX_CANDIDATES, ranked: list[str] | None = None
) -> list[str]:
    """Files most likely to need the change an issue text asks for (best first), tests excluded.

    `ranked` is the repository map's order for the same text (`repo_map_ranking`)."""
    pool = [f for f in workspace.files() if (is_source(f) or is_data(f)) and not is_test_file(f)]
    scores = dict.fromkeys(pool, 0.0)
    for path in _named_files(statement, pool):
        scores[path] += 3.0
    words, code_words = _statement_identifiers(statement)
    for path in pool:
        for name in set(_definitions(workspace, path)) & words:
            scores[path] += 2.0 if name in code_words else 1.0
    in_map = [p for p in ranked or [] if p in scores]
    for rank, path in enumerate(in_map):
        scores[path] += 4.0 / (1 + rank)
    named = set(_named_files(statement, pool))
    for path in pool:  # a module that only re-exports (a package's __init__) holds no logic
        if path.endswith(".py") and not _definitions(workspace, path) and path not in named:
            scores[path] = 0.0
    order = sorted(pool, key=lambda p: (-scores[p], _size(workspace, p), p))
    chosen = [p for p in order if scores[p] > 0][:limit]
    return chosen or [p for p in order if is_source(p)][:1]


def _statement_identifiers(statement: str) -> tuple[set[str], set[str]]:
    """(every identifier in the text, those written as code: in backticks, blocks or calls)."""
    code = " ".join(m.group(0) for m in _CODE_SPAN.finditer(statement))
    code_words = set(_IDENT.findall(code)) | set(_CALLED.findall(statement))
    return set(_IDENT.findall(statement)), code_words


def _named_files(statement: str, pool: list[str]) -> list[str]:
    """Files the text names by relative path, by file name, or as a dotted module."""
    out = []
    modules = {m.replace(".", "/") for m in _DOTTED.findall(statement)}
    for path in pool:
        p = PurePosixPath(path)
        module = path[: -len(p.suffix)] if p.suffix else path
        stem = module[: -len("/__init__")] if module.endswith("/__init__") else module
        named = path in statement or (p.suffix and re.search(rf"(?<![\w/.]){re.escape(p.name)}\b", statement))
        if named or (p.suffix == ".py" and stem in modules):
            out.append(path)
    return out


def names_definitions_of(workspace: Workspace, path: str, statement: str) -> bool:
    """Whether the statement names a function, class or constant defined in `path`."""
    words, _ = _statement_identifiers(statement)
    defined = set(_definitions(workspace, path))
    if path.endswith(".py"):
        defined |= _constants(workspace, path)
    return bool(defined & words)


def usage_snippet(workspace: Workspace, path: str, statement: str) -> tuple[str, str] | None:
    """(file, code) where another non-test file uses `path`: the function that calls most of
    its definitions (preferring one the statement names), or the lines that load a data file."""
    others = [f for f in workspace.files() if f.endswith(".py") and f != path and not is_test_file(f)]
    if path.endswith(".py"):
        wanted = set(_definitions(workspace, path)) | _constants(workspace, path)
        match = _name_user
    else:
        wanted = {PurePosixPath(path).name}
        match = _file_user
    words, _ = _statement_identifiers(statement)
    best: tuple[float, str, str] | None = None
    for other in others:
        for score, code in match(workspace, other, wanted, words):
            if best is None or score > best[0]:
                best = (score, other, code)
    return (best[1], best[2]) if best else None


def _constants(workspace: Workspace, path: str) -> set[str]:
    tree = _parse(workspace, path)
    names = set()
    for node in tree.body if tree else []:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _parse(workspace: Workspace, path: str) -> ast.Module | None:
    try:
        return ast.parse(workspace.read_text(path))
    except Exception:  # unreadable, binary or not Python
        return None


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _name_user(
    workspace: Workspace, other: str, wanted: set[str], words: set[str]
) -> list[tuple[float, str]]:
    tree = _parse(workspace, other)
    if tree is None or not wanted:
        return []
    lines = workspace.read_text(other).splitlines()
    out = []
    for fn in _functions(tree):
        used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        used |= {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)}
        hits = len(used & wanted)
        if hits:
            score = hits + (2.0 if fn.name in words else 0.0)
            out.append((score, _clip_lines(lines[fn.lineno - 1 : fn.end_lineno])))
    return out


def _file_user(
    workspace: Workspace, other: str, wanted: set[str], words: set[str]
) -> list[tuple[float, str]]:
    try:
        text = workspace.read_text(other)
    except Exception:  # unreadable or binary
        return []
    name = next(iter(wanted))
    if name not in text:
        return []
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if name in line)
    tree = _parse(workspace, other)
    functions = _functions(tree) if tree else []
    users = [fn for fn in functions if fn.lineno - 1 <= at < (fn.end_lineno or fn.lineno)]
    if users:
        return [(1.0, _clip_lines(lines[users[-1].lineno - 1 : users[-1].end_lineno]))]
    # a module-level reference (a path constant): show it and the functions that use it
    return [(1.0, _clip_lines(lines[max(0, at - 3) : at + 12]))]


def _clip_lines(lines: list[str]) -> str:
    if len(lines) > MAX_SNIPPET_LINES:
        lines = lines[:MAX_SNIPPET_LINES] + ["    ..."]
    return "\n".join(lines)
