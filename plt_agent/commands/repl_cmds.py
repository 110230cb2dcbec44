"""`plt-agent chat`: the interactive REPL.

Thin typer wrappers: options are merged with the config (plt_agent.config), the work is done
by plt_agent.repl, imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add `chat` to the root app."""
    app.command("chat")(chat)


def _config(path: Path, flags: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    from plt_agent.config import load_config
    from plt_agent.hook.git import repo_root

    try:
        repo = repo_root(path)
    except Exception:
        repo = path if path.is_dir() else None
    return load_config(repo, flags)


def _load_model(spec: str | None, config: Any = None, **overrides: Any) -> Any:
    """`spec` loaded with the options `config` gives (`overrides`: ModelOptions fields)."""
    from plt_agent.models import ModelOptions, load_model

    options = ModelOptions.from_config(config, **overrides) if config else ModelOptions(**overrides)
    return load_model(spec, options)


def chat(
    path: Path = typer.Argument(
        Path("."), help="The repository to work in (default: the current directory)."
    ),
    model: str = typer.Option(None, "--model", "-M", help="Model spec or store name (default: from config)."),
) -> None:
    """Chat with the model about a repository, in an interactive REPL.

    Type a message to ask, or to have the model change code with its tools.
    `/help` lists the commands: /add FILE, /diff, /undo, /test, /run CMD, /tokens, ...

    Ctrl-C stops an answer; Ctrl-D or /exit leaves. With stdin not a terminal, lines are read as input.
    """
    from plt_agent.repl.app import run_chat

    config = _config(path, {"model": model})
    raise typer.Exit(run_chat(path, config, _load_model))
