"""Fixtures for the agent tests: a hermetic environment, temporary git repositories made
from the bundled demo library, and the CLI invoked in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, store or PLT_AGENT_* settings leak in; returns the fake home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("PLT_AGENT_HOME", str(home / "store"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in list(os.environ):
        if key.startswith("PLT_AGENT_") and key != "PLT_AGENT_HOME":
            monkeypatch.delenv(key)
    return home


@pytest.fixture
def demo_repo(tmp_path: Path, hermetic: Path) -> Path:
    """A committed git repository holding the demo library (one failing test: add)."""
    from plt_agent.agent.demo import make_demo_repo

    parent = tmp_path / "work"
    parent.mkdir()
    return make_demo_repo(parent)


@pytest.fixture
def cli():
    """Invoke `plt-agent ARGS` in-process; returns the click Result (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from plt_agent.cli import app

    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke
