"""Finding the file behind a test failure, without a model: the navigation the whole-file
strategy does for tiny models.

`candidate_files(workspace, failure)` ranks the repository's source files by: files the
traceback points into (deepest frame first), files that define the identifiers on the
failing lines (assertions weigh double), modules the failing test imports, and the
repository map's ranking for the same text (`repo_map_ranking`). Test files are never
candidates. This module knows nothing about models.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tools.workspace import Workspace

if TYPE_CHECKING:
    from plt_agent.agent.loop import Verdict

MAX_CANDIDATES = 3
SOURCE_SUFFIXES = {".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".h", ".cpp", ".hpp", ".rb", ".php"}
_PATH_REF = re.compile(r"(?:File \"([^\"]+)\", line \d+)|(?:^|\s)([\w./-]+\.\w+):\d+", re.MULTILINE)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_DEF = re.compile(
    r"^\s*(?:async\s+)?(?:def|class|function|func|fn|struct|interface|type)\s+([A-Za-z_]\w*)", re.M
)
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w, ()]+)|import\s+([\w.]+))", re.MULTILINE)


def is_test_file(path: str) -> bool:
    p = PurePosixPath(path)
    name = p.name
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", "_test.go", ".test.js", ".test.ts", ".spec.js", ".spec.ts"))
        or "tests" in p.parts[:-1]
        or "test" in p.parts[:-1]
        or name == "conftest.py"
    )


def candidate_files(
    workspace: Workspace, failure: str, limit: int = MAX_CANDIDATES, ranked: list[str] | None = None
) -> list[str]:
    """Source files most likely to hold the bug behind `failure` (best first).

    `ranked` is the repository map's order for the same query, used as one more signal."""
    files = [f for f in workspace.files() if PurePosixPath(f).suffix in SOURCE_SUFFIXES]
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


def repo_map_ranking(workspace: Workspace, failure: Verdict) -> list[str]:
    """The repository map's file ranking for the failure text ([] when the map is unavailable)."""
    from tools.registry import run_tool

    obs = run_tool("repo_map", {"query": failure.summary[:4000], "budget_tokens": 64}, workspace)
    return list(obs.data.get("ranked") or []) if obs.ok else []
