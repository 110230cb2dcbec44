"""Helpers for the agent tests (imported by the test modules and conftest)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

GIT_ID = ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]
BUGGY_LINE = "    return a - b"
FIXED_LINE = "    return a + b"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, text=True, check=True)
    return proc.stdout


def write_script(path: Path, replies: list[dict[str, Any] | str]) -> Path:
    """A scripted-model file: strings become {"content": ...} replies."""
    lines = [json.dumps({"content": r} if isinstance(r, str) else r) for r in replies]
    path.write_text("\n".join(lines) + "\n")
    return path


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` except .git and caches, with its exact bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or "__pycache__" in rel.parts or ".pytest_cache" in rel.parts:
            continue
        if path.is_file():
            out[str(rel)] = path.read_bytes()
    return out


def index_bytes(repo: Path) -> bytes:
    return (repo / ".git" / "index").read_bytes()


def xml_call(name: str, **params: str) -> str:
    body = "".join(f"<parameter={k}>{v}</parameter>\n" for k, v in params.items())
    return f"<function={name}>\n{body}</function>"


# Tool schemas for the action parser's tests (the real tools' are in tools.registry).
TOOL_SCHEMAS = [
    {
        "name": "view",
        "description": "Show a file.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "start": {"type": "integer"}},
            "required": ["path"],
        },
    },
    {
        "name": "edit",
        "description": "Replace text.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
            "required": ["path", "old", "new"],
        },
    },
    {
        "name": "bash",
        "description": "Run a command.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
    {"name": "submit", "description": "Finish.", "parameters": {"type": "object", "properties": {}}},
]
