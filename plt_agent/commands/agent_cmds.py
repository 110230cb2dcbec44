"""`plt-agent fix`, `plt-agent demo` and `plt-agent models list|pull|rm|path`.

Thin wrappers: flags are merged with the config (`plt_agent.config`); the work is done by
`plt_agent.agent.fix`, `plt_agent.agent.demo` and `plt_agent.store`, imported inside the
commands so `plt-agent --help` stays fast. Progress goes to stderr, the diff to stdout.
Exit codes: 0 fixed, 1 not fixed, 2 bad usage or configuration.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

err = Console(stderr=True)
out = Console()

models_app = typer.Typer(
    name="models",
    help="The local model store: list, pull, remove and locate models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def register(app: typer.Typer) -> None:
    """Add `fix`, `demo` and the `models` group to the root app."""
    app.command("fix")(fix)
    app.command("demo")(demo)
    app.add_typer(models_app, name="models")


def fix(
    path: Path = typer.Argument(Path("."), help="The repository to fix (default: the current directory)."),
    message: str = typer.Option(
        None, "--message", "-m", help="The task. Without it, the failing tests are the task."
    ),
    test_cmd: str = typer.Option(None, "--test-cmd", help="Command that runs the tests (default: detected)."),
    model: str = typer.Option(None, "--model", "-M", help="Model spec or store name (default: from config)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Most model calls (default: config, else 30)."),
    mode: str = typer.Option(None, "--mode", help="Action format: auto, tools, text or whole-file."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Run shell commands without asking first."),
    commit: bool = typer.Option(False, "--commit", help="Commit the agent's changes when the fix succeeds."),
    no_git: bool = typer.Option(False, "--no-git", help="Work on a directory that is not a git repository."),
    replay: Path = typer.Option(
        None, "--replay", help="Re-run a saved trajectory through the scripted backend."
    ),
    trajectory: Path = typer.Option(None, "--trajectory", help="Where to write the run log (JSONL)."),
) -> None:
    """Fix a repository: run its tests, let the model edit until they pass, print the diff.

    The changes stay in the working tree (committed only with --commit); a run that fails leaves every file as it found it, your own uncommitted edits included. Exit code 0 fixed, 1 not fixed, 2 bad usage or configuration.
    """  # noqa: E501
    from plt_agent.agent.fix import git_root
    from plt_agent.config import load_config

    flags: dict[str, Any] = {"model": model, "max_steps": max_steps, "test_cmd": test_cmd, "mode": mode}
    repo = (git_root(path) or path) if path.is_dir() else None  # [tool.plt-agent] of the repository
    config = load_config(repo, flags)
    if replay is not None:
        config = _replay_config(config, replay)
    code = run_fix(
        path, config, message=message, yes=yes, commit=commit, no_git=no_git, trajectory=trajectory
    )
    raise typer.Exit(code)


def _replay_config(config: Any, replay: Path) -> Any:
    import dataclasses

    from plt_agent.errors import UsageError

    if not replay.is_file():
        raise UsageError(f"--replay {replay}: no such trajectory file")
    return dataclasses.replace(config, model=f"scripted:{replay}")


def run_fix(
    path: Path,
    config: Any,
    *,
    message: str | None = None,
    yes: bool = False,
    commit: bool = False,
    no_git: bool = False,
    trajectory: Path | None = None,
    console: Console | None = None,
) -> int:
    """The whole `fix` command after option parsing; returns the exit code."""
    from plt_agent.agent.fix import FixRequest, default_trajectory_path, fix_repository
    from plt_agent.agent.progress import ConsoleEvents

    console = console or err
    root = path.expanduser().resolve()
    request = FixRequest(
        root,
        message=message,
        no_git=no_git,
        commit=commit,
        trajectory=trajectory or default_trajectory_path(root),
    )
    interactive = not yes and sys.stdin.isatty() and sys.stderr.isatty()
    confirm = _confirm_commands(console) if interactive else None
    events = ConsoleEvents(console, show_replies=True)
    result = fix_repository(request, config, lambda: _load(config, console), events=events, confirm=confirm)
    _report(result, console)
    return 0 if result.fixed else 1


def _load(config: Any, console: Console) -> Any:
    from plt_agent.models import load_model

    return load_model(
        config.model,
        context=config.context,
        threads=config.threads,
        kv_type=config.kv_type,
        native_tools=config.native_tools,
        announce=lambda line: console.print(f"[cyan]{line}[/]"),
    )


def _confirm_commands(console: Console):  # type: ignore[no-untyped-def]
    """Ask before each shell command the model wants to run (interactive terminals only)."""
    from rich.prompt import Confirm

    def confirm(action: Any) -> bool:
        if action.name != "bash":
            return True
        console.print(
            f"[yellow]The model wants to run:[/] {action.arguments.get('command', '')}", highlight=False
        )
        return Confirm.ask("Run it?", console=console, default=True)

    return confirm


def _report(result: Any, console: Console) -> None:
    o = result.outcome
    if o.status == "nothing_to_fix":
        console.print("[green]The tests already pass: nothing to fix.[/]")
        return
    figures = (
        f"{o.steps} step{'s' if o.steps != 1 else ''}, {o.tokens} tokens ({o.prompt_tokens} prompt, "
        f"{o.completion_tokens} completion, {o.cached_tokens} reused), {o.seconds:.1f} s, "
        f"mode {result.mode}, model {result.model}"
    )
    if result.fixed:
        if result.diff:
            sys.stdout.write(result.diff)
            sys.stdout.flush()
        if o.status == "submitted":  # nothing verified the change against the task itself
            console.print(
                f"[bold yellow]Submitted, not verified against the task[/] ({o.message}). {figures}",
                highlight=False,
            )
        else:
            console.print(f"[bold green]Fixed[/] ({o.message}). {figures}", highlight=False)
        console.print(
            "The changes are in your working tree"
            + (f", committed as {result.commit}." if result.commit else "; review them with `git diff`.")
        )
    else:
        console.print(f"[bold red]Not fixed[/]: {o.status} ({o.message}). {figures}", highlight=False)
        restored = f" ({', '.join(result.restored)})" if result.restored else ""
        console.print(f"Every file the agent changed was put back{restored}.", highlight=False)
        if result.kept_by_user:
            console.print(
                f"[yellow]Left alone (changed by someone else during the run):[/] "
                f"{', '.join(result.kept_by_user)}",
                highlight=False,
            )
    for note in result.notes:
        console.print(f"[yellow]{note}[/]", highlight=False)
    if result.trajectory:
        console.print(f"[dim]trajectory: {result.trajectory}[/]", highlight=False)


def demo(
    model: str = typer.Option(
        None, "--model", "-M", help="Model spec or store name (default: smollm2-135m)."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the temporary demo repository afterwards."),
) -> None:
    """Copy a small example repository with a failing test and let the agent fix it.

    Uses the default model unless --model is given (the small demonstration model is downloaded on first use). Exit code 0 when the model fixed the bug, 1 when it did not.
    """  # noqa: E501
    from plt_agent.agent.demo import run_demo

    raise typer.Exit(run_demo(model, keep=keep, console=err))


@models_app.command("list")
def models_list() -> None:
    """List the models the store knows and which are downloaded."""
    from rich.table import Table

    from plt_agent.store import CATALOG, ModelStore

    store = ModelStore()
    stored = {m.name: m for m in store.list()}
    table = Table("name", "backend", "status", "size", "description", title=f"models in {store.models_dir}")
    for name in sorted(set(CATALOG) | set(stored)):
        entry, have = CATALOG.get(name), stored.get(name)
        status = "[green]downloaded[/]" if have else "not downloaded"
        size = f"{have.size_bytes / 1e6:,.0f} MB" if have else (entry.size if entry else "")
        backend = have.backend if have else (entry.backend if entry else "")
        table.add_row(name, backend, status, size, entry.description if entry else have.source)
    out.print(table)


@models_app.command("pull")
def models_pull(
    name: str = typer.Argument(..., help="Model name: smollm2-135m or loopcoder-v2."),
    quant: str = typer.Option(
        None, "--quant", help="loopcoder-v2: GGUF type (q4_k default, q8_0, f16, ...)."
    ),
    from_dir: Path = typer.Option(
        None, "--from", help="loopcoder-v2: convert this local checkpoint directory."
    ),
) -> None:
    """Download (and convert, if needed) a model into the store."""
    from plt_agent.store import ModelStore

    stored = ModelStore().pull(name, quant=quant, from_dir=from_dir, announce=lambda line: err.print(line))
    typer.echo(str(stored.path))


@models_app.command("rm")
def models_rm(name: str = typer.Argument(..., help="Model name to remove from the store.")) -> None:
    """Remove a downloaded model from the store."""
    from plt_agent.store import ModelStore

    removed = ModelStore().rm(name)
    err.print(f"removed {removed}")


@models_app.command("path")
def models_path(name: str = typer.Argument(..., help="Model name.")) -> None:
    """Print the path of a downloaded model's GGUF file."""
    from plt_agent.store import ModelStore

    typer.echo(str(ModelStore().path(name)))
