"""`plt-agent chat`: the interactive REPL.

Thin typer wrappers: options are merged with the config (plt_agent.config), the work is done
by plt_agent.repl, imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from plt_agent.commands.common import YES_OPTION, config_for, load_model_for


def register(app: typer.Typer) -> None:
    """Add `chat` to the root app."""
    app.command("chat")(chat)


def chat(
    path: Path = typer.Argument(
        Path("."), help="The repository to work in (default: the current directory)."
    ),
    model: str = typer.Option(None, "--model", "-M", help="Model spec or store name (default: from config)."),
    wait: bool = typer.Option(
        False, "--wait", help="If another plt-agent run is working in the repository, wait for it."
    ),
    yes: bool = YES_OPTION,
) -> None:
    """Chat with the model about a repository, in an interactive REPL.

    Type a message to ask, or to have the model change code with its tools.
    `/help` lists the commands: /add FILE, /diff, /undo, /test, /run CMD, /tokens, ...

    Ctrl-C stops an answer (and ends a running shell command); Ctrl-D or /exit leaves. With stdin not a terminal, lines are read as input and the model's shell commands are refused unless --yes.
    One run at a time per repository: while another plt-agent run works there, chat exits 2 (or waits, with --wait).
    """  # noqa: E501
    from plt_agent.repl.app import run_chat

    config = config_for(path, {"model": model})
    raise typer.Exit(run_chat(path, config, load_model_for, wait=wait, yes=yes))
