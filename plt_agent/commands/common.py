"""What the command modules share: a command group, the merged config for a directory, and a
model loader built from that config.

Imports nothing heavy; the config and the models are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

# `--yes` of the commands that run the model's shell commands (fix, chat)
YES_OPTION = typer.Option(
    False,
    "--yes",
    "-y",
    help="Run the model's shell commands without asking. Without it they are asked about in a "
    "terminal and refused when stdin is not one.",
)


def group(name: str, help: str, **options: Any) -> typer.Typer:
    """A command group (`plt-agent NAME ...`) that shows its help when called bare."""
    return typer.Typer(name=name, help=help, no_args_is_help=True, rich_markup_mode="rich", **options)


def config_for(path: Path, flags: dict[str, Any] | None = None) -> Any:
    """The merged config for `path`: its repository's (or the directory's) settings, then `flags`."""
    from plt_agent.config import load_config
    from tools.git import repo_root

    try:
        repo = repo_root(path)
    except Exception:
        repo = path if path.is_dir() else None
    return load_config(repo, flags)


def load_model_for(spec: str | None, config: Any = None, **overrides: Any) -> Any:
    """`spec` loaded with the options `config` gives (`overrides`: ModelOptions fields)."""
    from plt_agent.models import ModelOptions, load_model

    options = ModelOptions.from_config(config, **overrides) if config else ModelOptions(**overrides)
    return load_model(spec, options)
