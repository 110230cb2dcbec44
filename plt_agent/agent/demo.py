"""The repository of `plt-agent demo`: the bundled example (a failing test, one obvious bug)
copied to a directory and made a git repository with one commit.

Running `fix` on it and reporting is the command's part (`plt_agent.commands.agent_cmds`).
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from tools.git import identity, output

RENAMES = {"gitignore": ".gitignore"}  # dotfiles are stored without the dot in the package


def demo_source() -> Path:
    return Path(str(resources.files("plt_agent") / "data" / "demo_repo"))


def make_demo_repo(parent: Path) -> Path:
    """A fresh git repository with the demo files, committed, under `parent`."""
    repo = parent / "mathlib"
    shutil.copytree(
        demo_source(), repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    )
    for old, new in RENAMES.items():
        if (repo / old).exists():
            (repo / old).rename(repo / new)
    author = identity("plt-agent demo", "demo@plt-agent.invalid")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "mathlib: initial version"]):
        output(repo, *args, config=author)
    return repo
