"""`plt-agent chat` (the interactive REPL) and `plt-agent hook install|uninstall|run`.

Thin typer wrappers: options are merged with the config (plt_agent.config), the work is done
by plt_agent.repl and plt_agent.hook, imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import typer

hook_app = typer.Typer(
    name="hook",
    help="A git pre-commit hook that reviews the staged diff and prints suggestions.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def register(app: typer.Typer) -> None:
    """Add `chat` and the `hook` group to the root app."""
    app.command("chat")(chat)
    app.add_typer(hook_app, name="hook")


def _config(path: Path, flags: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    from plt_agent.config import load_config
    from plt_agent.hook.git import repo_root

    try:
        repo = repo_root(path)
    except Exception:
        repo = path if path.is_dir() else None
    return load_config(repo, flags)


def _load_model(spec: str | None, config: Any = None, **options: Any) -> Any:
    from plt_agent.models import load_model

    if config is not None:
        options = {
            "context": config.context,
            "threads": config.threads,
            "kv_type": config.kv_type,
            "native_tools": config.native_tools,
            **options,
        }
    return load_model(spec, **options)


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


@hook_app.command("install")
def hook_install(
    path: Path = typer.Argument(Path("."), help="A directory inside the git repository."),
    strict: bool = typer.Option(
        False, "--strict", help="Make the installed hook block commits with a blocker."
    ),
    command: str = typer.Option(
        None,
        "--command",
        help="Shell command the hook uses to start plt-agent (default: the absolute path of this plt-agent).",
    ),
) -> None:
    """Install the pre-commit hook (core.hooksPath is honoured).

    An existing pre-commit hook is kept as `pre-commit.plt-agent-orig` and still runs first.
    Its failure still blocks the commit. Installing again refreshes the script.
    """
    from plt_agent.hook.install import install

    status = install(path, command, "--strict" if strict else "")
    kept = f"; your previous hook is kept as {status.kept.name} and runs first" if status.kept else ""
    typer.echo(f"plt-agent: hook {status.action} at {status.hook}{kept}")


@hook_app.command("uninstall")
def hook_uninstall(
    path: Path = typer.Argument(Path("."), help="A directory inside the git repository."),
) -> None:
    """Remove the pre-commit hook and restore the one it replaced, byte for byte."""
    from plt_agent.hook.install import uninstall

    status = uninstall(path)
    done = "previous hook restored" if status.action == "restored" else "no previous hook to restore"
    typer.echo(f"plt-agent: hook removed from {status.hook}; {done}")


@hook_app.command("run")
def hook_run(
    path: Path = typer.Argument(Path("."), help="A directory inside the git repository."),
    strict: bool = typer.Option(
        None,
        "--strict/--no-strict",
        help="Exit 1 on a blocking problem "
        "(deterministic check or a model finding marked blocker). Default: config.",
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-M",
        help="Model spec (default: PLT_AGENT_HOOK_MODEL, PLT_AGENT_MODEL, then config).",
    ),
    timeout: float = typer.Option(
        None, "--timeout", help="Seconds for the model review (default: config, 60)."
    ),
    patch_file: bool = typer.Option(
        False,
        "--patch-file",
        help="Write the model's suggested patch to .git/plt-agent/suggested.patch (never applied).",
    ),
    no_model: bool = typer.Option(False, "--no-model", help="Run only the deterministic checks."),
    max_diff_chars: int = typer.Option(
        24_000, "--max-diff-chars", min=500, help="Cap on the diff sent to the model."
    ),
    max_file_mb: float = typer.Option(
        5.0, "--max-file-mb", min=0.0, help="Staged files above this size are a blocker."
    ),
) -> None:
    """Review the staged diff (what `git diff --cached` shows) and print suggestions.

    Never modifies files or the index; exits 0 unless --strict finds a blocking problem.

    Blocking: a conflict marker, a Python/JSON syntax error, a private key or an oversized file
    in what is staged, or a model finding marked "blocker".

    A model that fails or runs out of time is a note, not a failure.
    Skipped during merges, rebases, cherry-picks and reverts, and with PLT_AGENT_SKIP=1.
    """
    from rich.console import Console

    from plt_agent.config import Config
    from plt_agent.errors import UsageError
    from plt_agent.hook.run import DEFAULT_PATCH_NAME, HookOptions, run_hook

    try:
        config = _config(path, {"hook_strict": strict, "hook_timeout": timeout, "hook_model": model})
    except UsageError as exc:  # a broken config must not block every commit: checks only
        typer.echo(f"plt-agent: config problem ({exc}); running the deterministic checks only")
        config, no_model = Config(hook_strict=bool(strict)), True
    options = HookOptions(
        strict=config.hook_strict,
        use_model=not no_model,
        model=config.hook_model or config.model,
        time_budget_s=config.hook_timeout,
        max_diff_chars=max_diff_chars,
        max_file_bytes=int(max_file_mb * 1_000_000),
        patch_file=config.hook_patch or (DEFAULT_PATCH_NAME if patch_file else None),
    )
    # Never download a model from inside a commit: the default model must be pulled already.
    load = functools.partial(_load_model, config=config, auto_pull=False)
    result = run_hook(path, options, load, Console(highlight=False, soft_wrap=True))
    if result.review is not None and result.review.status == "timeout":
        # The model thread may still be inside native code: leave without waiting for it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(result.exit_code)
    raise typer.Exit(result.exit_code)
