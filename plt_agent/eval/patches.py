"""Unified diffs: parse them into files and hunks, list what they touch, apply them with git.

`parse_patch(text)` understands what `git diff` writes (new and deleted files, renames,
"\\ No newline at end of file") and plain `diff -u` output. The oracle turns each hunk into
an `edit` call (old = context + removed lines, new = context + added lines); the harness
applies whole patches with `git apply`, as swebench does.

This module knows nothing about tasks, tools or tests.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from plt_agent.eval.errors import EvalError
from tools.git import run

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    old_start: int
    old_lines: list[str] = field(default_factory=list)  # context + removed, each ending "\n" unless last
    new_lines: list[str] = field(default_factory=list)  # context + added

    @property
    def old_text(self) -> str:
        return "".join(self.old_lines)

    @property
    def new_text(self) -> str:
        return "".join(self.new_lines)


@dataclass
class FilePatch:
    path: str  # the path after the change (the old path for a deletion)
    old_path: str | None  # None for a new file
    new_file: bool = False
    deleted: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def renamed(self) -> bool:
        return self.old_path is not None and self.old_path != self.path and not self.deleted


def _strip_prefix(name: str) -> str | None:
    name = name.split("\t", 1)[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def parse_patch(text: str) -> list[FilePatch]:
    """The files of a unified diff, in order. Raises EvalError for a malformed hunk."""
    files: list[FilePatch] = []
    current: FilePatch | None = None
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            current = _from_git_header(line)
            files.append(current)
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            current = _merge_names(current, files, line[4:], lines[i + 1][4:])
            i += 1
        elif current is not None and _header_line(line, current):
            pass
        elif line.startswith("@@ "):
            if current is None:
                raise EvalError(f"hunk before any file header: {line.strip()}")
            hunk, i = _read_hunk(lines, i)
            current.hunks.append(hunk)
            continue
        i += 1
    return files


def _from_git_header(line: str) -> FilePatch:
    m = re.match(r"diff --git a/(.*) b/(.*)$", line.rstrip("\n"))
    if not m:
        raise EvalError(f"cannot read the diff header {line.strip()!r}")
    return FilePatch(path=m.group(2), old_path=m.group(1))


def _header_line(line: str, current: FilePatch) -> bool:
    """Extended git header lines; returns True when the line was one."""
    if line.startswith("new file mode"):
        current.new_file, current.old_path = True, None
    elif line.startswith("deleted file mode"):
        current.deleted = True
    elif line.startswith("rename from "):
        current.old_path = line[len("rename from ") :].rstrip("\n")
    elif line.startswith("rename to "):
        current.path = line[len("rename to ") :].rstrip("\n")
    else:
        return line.startswith(("index ", "similarity index", "old mode", "new mode", "Binary files"))
    return True


def _merge_names(current: FilePatch | None, files: list[FilePatch], old: str, new: str) -> FilePatch:
    old_name, new_name = _strip_prefix(old), _strip_prefix(new)
    if current is None or current.hunks:
        current = FilePatch(path=new_name or old_name or "", old_path=old_name)
        files.append(current)
    current.new_file = current.new_file or old_name is None
    current.deleted = current.deleted or new_name is None
    current.path = new_name or old_name or current.path
    current.old_path = old_name
    return current


def _read_hunk(lines: list[str], i: int) -> tuple[Hunk, int]:
    m = _HUNK.match(lines[i])
    if not m:
        raise EvalError(f"malformed hunk header {lines[i].strip()!r}")
    old_left = int(m.group(2)) if m.group(2) is not None else 1
    new_left = int(m.group(4)) if m.group(4) is not None else 1
    hunk = Hunk(old_start=int(m.group(1)))
    i += 1
    last: list[list[str]] = []
    while i < len(lines) and (old_left > 0 or new_left > 0 or lines[i].startswith("\\")):
        line = lines[i]
        tag, body = line[:1], line[1:]
        if line in ("\n", "\r\n"):  # a blank context line whose leading space was stripped
            tag, body = " ", line
        if tag == "\\":  # "\ No newline at end of file" applies to the line before
            for target in last:
                target[-1] = target[-1].rstrip("\n")
        elif tag == " ":
            hunk.old_lines.append(body)
            hunk.new_lines.append(body)
            last, old_left, new_left = [hunk.old_lines, hunk.new_lines], old_left - 1, new_left - 1
        elif tag == "-":
            hunk.old_lines.append(body)
            last, old_left = [hunk.old_lines], old_left - 1
        elif tag == "+":
            hunk.new_lines.append(body)
            last, new_left = [hunk.new_lines], new_left - 1
        else:
            raise EvalError(f"unexpected line in a hunk: {line.rstrip()!r}")
        i += 1
    if old_left > 0 or new_left > 0:
        raise EvalError(
            f"truncated hunk at line {hunk.old_start} (missing {old_left} old / {new_left} new lines)"
        )
    return hunk, i


def touched_files(text: str) -> list[str]:
    """Every path a patch changes (both names of a rename)."""
    out: list[str] = []
    for fp in parse_patch(text):
        for name in (fp.old_path, fp.path):
            if name and name not in out:
                out.append(name)
    return out


def git_apply(repo: Path, patch: str, *, check_only: bool = False) -> tuple[bool, str]:
    """Apply `patch` in `repo` with `git apply` (whitespace as is); returns (ok, git's message)."""
    if not patch.strip():
        return True, ""
    with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False, encoding="utf-8") as fh:
        fh.write(patch if patch.endswith("\n") else patch + "\n")
        name = fh.name
    try:
        proc = run(repo, "apply", "--verbose", "--recount", *(["--check"] if check_only else []), name)
    finally:
        Path(name).unlink(missing_ok=True)
    return proc.returncode == 0, (proc.stderr or proc.stdout).decode(errors="replace").strip()
