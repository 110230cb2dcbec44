"""Fixtures for the tools tests: a temporary git repository and a Workspace on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from toolrepos import make_repo  # noqa: E402

from tools.workspace import Workspace  # noqa: E402


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one committed Python file."""
    return make_repo(tmp_path / "repo", {"app.py": "def main():\n    return 1\n"})


@pytest.fixture
def ws(repo: Path) -> Workspace:
    workspace = Workspace(repo)
    workspace.snapshot()
    return workspace
