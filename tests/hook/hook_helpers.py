"""Helpers shared by the hook tests: run git, and a recording Model double."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plt_agent.models.base import ModelBase, Reply, Request


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout


@dataclass
class FakeModel(ModelBase):
    """A Model double: answers `says`, streamed in `chunks` pieces `delay` seconds apart."""

    says: str = "LGTM"
    chunks: int = 1
    delay: float = 0.0
    ignore_stop: bool = False
    context_window: int = 8192
    name: str = "fake"
    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    def answer(self, messages: list[dict[str, Any]], request: Request) -> Reply:
        self.calls.append(messages)
        size = max(1, len(self.says) // self.chunks + 1)
        sent = ""
        for start in range(0, len(self.says), size):
            if request.should_stop and request.should_stop() and not self.ignore_stop:
                return Reply(sent, finish_reason="cancelled")
            time.sleep(self.delay)
            piece = self.says[start : start + size]
            sent += piece
            if request.on_text:
                request.on_text(piece)
        return Reply(sent)

    def count_tokens(self, messages, tools=None) -> int:
        return sum(len(m["content"]) for m in messages) // 4
