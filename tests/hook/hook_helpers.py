"""Helpers shared by the hook tests: run git, a recording Model double, and a call log.

The review runs the model in a forked child process, so a double records what it was asked
in a file (`CallLog`), not in memory the test could not see.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plt_agent.models.base import ModelBase, Reply, Request


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout


class CallLog:
    """Values appended in any process (the forked review child included), read back in the test."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="plt-test-calls-", suffix=".jsonl")
        os.close(fd)
        self.path = Path(name)
        atexit.register(self.path.unlink, missing_ok=True)  # (the forked child leaves by os._exit)

    def append(self, value: Any) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(value) + "\n")

    def read(self) -> list[Any]:
        return [json.loads(line) for line in self.path.read_text().splitlines()]


@dataclass
class FakeModel(ModelBase):
    """A Model double: answers `says`, streamed in `chunks` pieces `delay` seconds apart.

    `calls` lists the messages of every `complete` call, whichever process made it."""

    says: str = "LGTM"
    chunks: int = 1
    delay: float = 0.0
    ignore_stop: bool = False
    context_window: int = 8192
    name: str = "fake"
    log: CallLog = field(default_factory=CallLog)

    @property
    def calls(self) -> list[list[dict[str, Any]]]:
        return self.log.read()

    def answer(self, messages: list[dict[str, Any]], request: Request) -> Reply:
        self.log.append(messages)
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
