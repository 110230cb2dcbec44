"""Fixtures for the agent tests: git repositories made from the bundled demo library and the
CLI invoked in-process (the hermetic environment is tests/conftest.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest


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
