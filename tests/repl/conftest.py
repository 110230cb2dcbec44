"""Fixtures for the chat tests: no user config or history leaks in or out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from repl_helpers import make_repo


@pytest.fixture
def hermetic_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("PLT_AGENT_HOME", str(home / "plt-agent"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in list(os.environ):
        if key.startswith("PLT_AGENT_") and key != "PLT_AGENT_HOME":
            monkeypatch.delenv(key)
    return dict(os.environ)


@pytest.fixture
def repo(tmp_path: Path, hermetic_env: dict[str, str]) -> Path:
    return make_repo(tmp_path / "repo")
