"""Helpers every test folder may use (tests/ is on the path through tests/conftest.py): run git
with a fixed identity, and write a tree of files."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    """`git ARGS` in `repo` (which must succeed); its stdout."""
    proc = subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True)
    return proc.stdout


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write each relative path's text under `root`, making folders as needed."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
