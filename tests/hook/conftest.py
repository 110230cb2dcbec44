"""Fixtures for the hook tests: a hermetic environment and a temporary git repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hook_helpers import git


@pytest.fixture
def hermetic_env(hermetic: Path) -> dict[str, str]:
    """The hermetic environment (tests/conftest.py), for subprocesses."""
    return dict(os.environ)


@pytest.fixture
def repo(tmp_path: Path, hermetic_env: dict[str, str]) -> Path:
    """A git repository with one commit (app.py, README.md)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "Test")
    (root / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "README.md").write_text("# demo\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root
