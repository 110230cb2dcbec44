"""`plt-agent demo`: copy the bundled example repository (a failing test, one obvious bug) to
a temporary directory, make it a git repository and run `fix` on it with the default model.

The outcome is reported as it is: when the model cannot fix the bug, the demo says so and
exits 1. The temporary copy is removed afterwards unless `keep` (or the run failed, so the
user can look at it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from rich.console import Console

from plt_agent.display import literal

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
    ident = [
        "-c",
        "user.name=plt-agent demo",
        "-c",
        "user.email=demo@plt-agent.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    for cmd in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "mathlib: initial version"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, capture_output=True)
    return repo


def run_demo(model: str | None, *, keep: bool = False, console: Console) -> int:
    """Run the demo; returns the exit code (0 fixed, 1 not fixed)."""
    import dataclasses

    from plt_agent.commands.agent_cmds import run_fix
    from plt_agent.config import load_config

    parent = Path(tempfile.mkdtemp(prefix="plt-agent-demo-"))
    repo = make_demo_repo(parent)
    config = load_config(None, {"model": model})
    config = dataclasses.replace(config, max_steps=min(config.max_steps, 12))
    console.print(
        f"[bold]plt-agent demo[/]: a copy of a small library with a failing test is in {literal(repo)}",
        highlight=False,
    )
    code = run_fix(repo, config, yes=True, console=console)  # the trajectory goes to the store's folder
    if code == 0:
        console.print("[bold green]Demo result: the model fixed the bug; the tests pass.[/]")
    else:
        console.print(
            "[bold yellow]Demo result: the model did NOT fix the bug.[/] Small models often cannot; "
            "try a stronger one with --model (see `plt-agent models list`)."
        )
    if keep or code != 0:
        console.print(f"The demo repository is kept at {literal(repo)}", highlight=False)
    else:
        shutil.rmtree(parent, ignore_errors=True)
    return code
