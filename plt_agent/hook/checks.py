"""Cheap deterministic checks on the staged content, valuable with or without a model.

Each check reads only the staged diff and the staged blobs (never the work tree, which may
hold unstaged edits) and returns `Finding`s. Blocking problems (severity "blocker"):
  - a conflict marker on an added line (`<<<<<<< `, `>>>>>>> `, a bare `=======` between them);
  - a staged Python file that does not compile, or a staged JSON file that does not parse;
  - a staged file larger than the size limit (default 5 MB);
  - a private key block on an added line.
Everything else a check notices is a "warning" (trailing whitespace is not checked: that is
what formatters are for).

This module knows nothing about models, the terminal or exit codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.git import StagedFile, read_blob

SEVERITIES = ("blocker", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One problem or suggestion: where, how bad, and what to do."""

    severity: str  # one of SEVERITIES
    path: str
    line: int | None
    message: str
    source: str = "check"  # "check" (deterministic) or "model"

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else (self.path or "(commit)")


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_CONFLICT_OPEN = re.compile(r"^<{7}(?: |$)")
_CONFLICT_CLOSE = re.compile(r"^>{7}(?: |$)")
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY( BLOCK)?-----")


def added_lines(diff: str) -> Iterator[tuple[str, int, str]]:
    """(path, new line number, text) for every added line of a unified diff.

    Hunk bodies are consumed by their line counts, so an added line that itself starts
    with "++ " is never mistaken for a file header.
    """
    path, lineno, old_left, new_left = "", 0, 0, 0
    for line in diff.splitlines():
        if old_left > 0 or new_left > 0:
            tag = line[:1]
            if tag == "+":
                yield path, lineno, line[1:]
            if tag in "+ " or not line:
                lineno, new_left = lineno + 1, new_left - 1
            if tag in "- " or not line:
                old_left -= 1
        elif line.startswith("+++ "):
            name = line[4:].strip('"')
            path = name[2:] if name.startswith("b/") else ""
        elif m := _HUNK.match(line):
            old_left = int(m.group(1) or 1)
            lineno, new_left = int(m.group(2)), int(m.group(3) or 1)


def check_added_lines(diff: str) -> list[Finding]:
    """Conflict markers and private keys on the lines this commit adds."""
    findings = []
    opened: dict[str, bool] = {}
    for path, lineno, text in added_lines(diff):
        if _CONFLICT_OPEN.match(text):
            opened[path] = True
            findings.append(Finding("blocker", path, lineno, "merge conflict marker `<<<<<<<`"))
        elif _CONFLICT_CLOSE.match(text):
            findings.append(Finding("blocker", path, lineno, "merge conflict marker `>>>>>>>`"))
        elif text == "=======" and opened.get(path):
            findings.append(Finding("blocker", path, lineno, "merge conflict marker `=======`"))
        if _PRIVATE_KEY.search(text):
            findings.append(Finding("blocker", path, lineno, "a private key is being committed"))
    return findings


def check_sizes(files: list[StagedFile], max_bytes: int) -> list[Finding]:
    """Staged files bigger than `max_bytes`."""
    return [
        Finding("blocker", f.path, None, f"staged file is {_size(f.size)} (limit {_size(max_bytes)})")
        for f in files
        if f.status != "D" and f.size > max_bytes
    ]


def _size(n: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_syntax(root: Path, files: list[StagedFile], max_bytes: int) -> list[Finding]:
    """Python files that do not compile and JSON files that do not parse, as staged."""
    findings = []
    for f in files:
        suffix = Path(f.path).suffix.lower()
        if f.status == "D" or suffix not in (".py", ".pyi", ".json") or f.size > max_bytes:
            continue
        data = read_blob(root, f.blob)
        problem = _python_error(f.path, data) if suffix != ".json" else _json_error(data)
        if problem:
            findings.append(Finding("blocker", f.path, problem[0], problem[1]))
    return findings


def _python_error(path: str, data: bytes) -> tuple[int | None, str] | None:
    try:
        compile(data, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno, f"Python syntax error: {exc.msg}"
    except ValueError as exc:  # e.g. null bytes
        return None, f"Python source cannot be compiled: {exc}"
    return None


def _json_error(data: bytes) -> tuple[int | None, str] | None:
    try:
        json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "JSON file is not UTF-8"
    except json.JSONDecodeError as exc:
        return exc.lineno, f"JSON syntax error: {exc.msg}"
    return None


def run_checks(root: Path, diff: str, files: list[StagedFile], max_file_bytes: int) -> list[Finding]:
    """All deterministic checks, in a stable order."""
    return (
        check_sizes(files, max_file_bytes)
        + check_syntax(root, files, max_file_bytes)
        + check_added_lines(diff)
    )
