"""Fixtures for the chat tests: no user config or history leaks in or out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from repl_helpers import make_repo


@pytest.fixture
def hermetic_env(hermetic: Path) -> dict[str, str]:
    """The hermetic environment (tests/conftest.py), for subprocesses."""
    return dict(os.environ)


@pytest.fixture
def repo(tmp_path: Path, hermetic_env: dict[str, str]) -> Path:
    return make_repo(tmp_path / "repo")
