"""Helpers for the chat tests: a temporary repository and scripted-model reply files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

CALC = "def add(a, b):\n    return a - b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def make_repo(root: Path) -> Path:
    """A git repository with a buggy calc.py and its failing test, committed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST_CALC)
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def write_replies(path: Path, *contents: str) -> str:
    """A `scripted:` spec replaying `contents` in order."""
    path.write_text("".join(json.dumps({"content": c}) + "\n" for c in contents))
    return f"scripted:{path}"


def edit_reply(path: str, old: str, new: str, prose: str = "Let me fix that.") -> str:
    """A reply that calls the edit tool through the text protocol."""
    return (
        f"{prose}\n<function=edit>\n<parameter=path>{path}</parameter>\n"
        f"<parameter=old>{old}</parameter>\n<parameter=new>{new}</parameter>\n</function>"
    )
