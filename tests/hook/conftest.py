"""Temporary git repositories and a recording model double for the hook tests."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from plt_agent.models.base import Reply


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def hermetic_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No user git or plt-agent config leaks in; returns the environment for subprocesses."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in list(os.environ):
        if key.startswith("PLT_AGENT_") or key in ("SKIP", "GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
            monkeypatch.delenv(key)
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


@dataclass
class FakeModel:
    """A Model double: answers `answer`, streamed in `chunks` pieces `delay` seconds apart."""

    answer: str = "LGTM"
    chunks: int = 1
    delay: float = 0.0
    ignore_stop: bool = False
    context_window: int = 8192
    name: str = "fake"
    supports_tools: bool = False
    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    def complete(
        self,
        messages,
        *,
        tools=None,
        max_tokens=1024,
        temperature=0.0,
        stop=None,
        on_text=None,
        should_stop=None,
    ) -> Reply:
        self.calls.append(messages)
        size = max(1, len(self.answer) // self.chunks + 1)
        sent = ""
        for start in range(0, len(self.answer), size):
            if should_stop and should_stop() and not self.ignore_stop:
                return Reply(sent, finish_reason="cancelled")
            time.sleep(self.delay)
            piece = self.answer[start : start + size]
            sent += piece
            if on_text:
                on_text(piece)
        return Reply(sent)

    def count_tokens(self, messages, tools=None) -> int:
        return sum(len(m["content"]) for m in messages) // 4
