"""`plt-agent hook install|uninstall|run`: the git pre-commit review hook.

Thin typer wrappers: options are merged with the config (plt_agent.config), the work is done
by plt_agent.hook, imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import functools
from pathlib import Path

import typer

from plt_agent.commands.common import config_for, group, load_model_for
from plt_agent.display import printable

hook_app = group("hook", "A git pre-commit hook that reviews the staged diff and prints suggestions.")
PATH_ARG = typer.Argument(Path("."), help="A directory inside the git repository.")


def register(app: typer.Typer) -> None:
    """Add the `hook` group to the root app."""
    app.add_typer(hook_app, name="hook")


@hook_app.command("install")
def hook_install(
    path: Path = PATH_ARG,
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
    path: Path = PATH_ARG,
) -> None:
    """Remove the pre-commit hook and restore the one it replaced, byte for byte."""
    from plt_agent.hook.install import uninstall

    status = uninstall(path)
    done = "previous hook restored" if status.action == "restored" else "no previous hook to restore"
    typer.echo(f"plt-agent: hook removed from {status.hook}; {done}")


@hook_app.command("run")
def hook_run(
    path: Path = PATH_ARG,
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
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show every finding in full, and the model's own answer."
    ),
    max_diff_chars: int = typer.Option(
        24_000, "--max-diff-chars", min=500, help="Cap on the diff sent to the model."
    ),
    max_file_mb: float = typer.Option(
        5.0, "--max-file-mb", min=0.0, help="Staged files above this size are a blocker."
    ),
) -> None:
    """Review the staged diff (what `git diff --cached` shows) and print suggestions.

    Prints one verdict line that says what happens to the commit, and at most 5 findings, one
    line each (--verbose shows them all, and the model's own answer). Never modifies files or
    the index; exits 0 unless --strict finds a blocking problem.

    Blocking: a conflict marker, a Python/JSON syntax error, a private key or an oversized file
    in what is staged, or a model finding marked "blocker".

    A model that fails, crashes, hangs or runs out of time is a note, not a failure (the review
    runs in a child process), and so is any other problem of the review itself.
    Skipped during merges, rebases, cherry-picks and reverts, and with PLT_AGENT_SKIP=1.
    """
    from rich.console import Console

    from plt_agent.config import Config
    from plt_agent.errors import UsageError
    from plt_agent.hook.run import DEFAULT_PATCH_NAME, HookOptions, run_hook
    from plt_agent.signals import stop_signals

    try:
        config = config_for(path, {"hook_strict": strict, "hook_timeout": timeout, "hook_model": model})
    except UsageError as exc:  # a broken config must not block every commit: checks only
        typer.echo(f"plt-agent: config problem ({printable(exc)}); running the deterministic checks only")
        config, no_model = Config(hook_strict=bool(strict)), True
    options = HookOptions(
        strict=config.hook_strict,
        use_model=not no_model,
        model=config.hook_model or config.model,
        time_budget_s=config.hook_timeout,
        max_diff_chars=max_diff_chars,
        max_file_bytes=int(max_file_mb * 1_000_000),
        patch_file=config.hook_patch or (DEFAULT_PATCH_NAME if patch_file else None),
        verbose=verbose,
        reply_tokens=config.reply_tokens,
    )
    # Never download a model from inside a commit: the default model must be pulled already.
    load = functools.partial(load_model_for, config=config, auto_pull=False)
    try:
        with stop_signals():  # SIGTERM/SIGHUP: the review process is killed on the way out
            result = run_hook(path, options, load, Console(highlight=False, soft_wrap=True, emoji=False))
    except Exception as exc:  # fail open: a problem of ours must not hold the commit up
        typer.echo(
            f"plt-agent: the review failed ({type(exc).__name__}: {printable(exc)}); "
            "the commit is not held up"
        )
        raise typer.Exit(0) from None
    raise typer.Exit(result.exit_code)
