"""`plt-agent fix`, `plt-agent recover` and `plt-agent demo`.

Thin wrappers: flags are merged with the config (`plt_agent.config`); the work is done by
`plt_agent.agent.fix`, `tools.runs` (recover) and `plt_agent.agent.demo`, imported inside
the commands so `plt-agent --help` stays fast. Progress goes to stderr, the diff to stdout.
`fix` turns SIGTERM and SIGHUP into a stop, so the files are put back.
Exit codes: 0 fixed, 1 not fixed, 2 bad usage, configuration or a busy repository.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from plt_agent.commands.common import YES_OPTION
from plt_agent.display import literal, plural

err = Console(stderr=True)
out = Console()


def register(app: typer.Typer) -> None:
    """Add `fix` and `demo` to the root app."""
    app.command("fix")(fix)
    app.command("recover")(recover)
    app.command("demo")(demo)


def fix(
    path: Path = typer.Argument(Path("."), help="The repository to fix (default: the current directory)."),
    message: str = typer.Option(
        None, "--message", "-m", help="The task. Without it, the failing tests are the task."
    ),
    test_cmd: str = typer.Option(None, "--test-cmd", help="Command that runs the tests (default: detected)."),
    model: str = typer.Option(None, "--model", "-M", help="Model spec or store name (default: from config)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Most model calls (default: config, else 30)."),
    mode: str = typer.Option(None, "--mode", help="Action format: auto, tools, text or whole-file."),
    yes: bool = YES_OPTION,
    commit: bool = typer.Option(False, "--commit", help="Commit the agent's changes when the fix succeeds."),
    no_git: bool = typer.Option(False, "--no-git", help="Work on a directory that is not a git repository."),
    replay: Path = typer.Option(
        None, "--replay", help="Re-run a saved trajectory through the scripted backend."
    ),
    trajectory: Path = typer.Option(None, "--trajectory", help="Where to write the run log (JSONL)."),
    wait: bool = typer.Option(
        False, "--wait", help="If another plt-agent run is working in the repository, wait for it."
    ),
) -> None:
    """Fix a repository: run its tests, let the model edit until they pass, print the diff.

    The changes stay in the working tree (committed only with --commit); a run that fails or is stopped leaves every file as it found it, your own uncommitted edits included, and your index, stash and branches as they were. One run at a time per repository: another run makes this one exit 2 (or wait, with --wait). Exit code 0 fixed, 1 not fixed, 2 bad usage, configuration or a busy repository.
    """  # noqa: E501
    from plt_agent.config import load_config, setting_source
    from plt_agent.errors import UsageError
    from tools.git import find_root

    if message is not None and not message.strip():
        raise UsageError("-m/--message is empty: say what to do, or leave it out to fix the failing tests")
    flags: dict[str, Any] = {"model": model, "max_steps": max_steps, "test_cmd": test_cmd, "mode": mode}
    repo = (find_root(path) or path) if path.is_dir() else None  # [tool.plt-agent] of the repository
    config = load_config(repo, flags)
    if replay is not None:
        config = _replay_config(config, replay)
    code = run_fix(
        path,
        config,
        test_cmd_source=setting_source("test_cmd", repo, flags) if config.test_cmd else "",
        message=message,
        yes=yes,
        commit=commit,
        no_git=no_git,
        trajectory=trajectory,
        wait=wait,
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
    wait: bool = False,
    test_cmd_source: str = "",
) -> int:
    """The whole `fix` command after option parsing; returns the exit code."""
    from plt_agent.agent.fix import FixRequest, default_trajectory_path, fix_repository
    from plt_agent.agent.progress import ConsoleEvents
    from plt_agent.signals import stop_signals

    console = console or err
    root = path.expanduser().resolve()
    request = FixRequest(
        root,
        message=message,
        no_git=no_git,
        commit=commit,
        trajectory=trajectory or default_trajectory_path(root),
        test_cmd_source=test_cmd_source,
    )
    events = ConsoleEvents(console, show_replies=True)
    try:
        with stop_signals():
            result = fix_repository(
                request,
                config,
                lambda: _load(config, console),
                events=events,
                confirm=_confirmer(yes, console),
                wait=wait,
            )
    finally:
        events.close()  # a model that fails to load leaves no progress line running
    _report(result, console)
    return 0 if result.fixed else 1


def _load(config: Any, console: Console) -> Any:
    from plt_agent.models import ModelOptions, load_model

    options = ModelOptions.from_config(
        config, announce=lambda line: console.print(f"[cyan]{literal(line)}[/]")
    )
    return load_model(config.model, options)


def _confirmer(yes: bool, console: Console):  # type: ignore[no-untyped-def]
    """--yes: run the model's commands; a terminal: ask before each; otherwise refuse them."""
    from plt_agent.agent.permissions import refuse_commands

    if yes:
        return None
    if sys.stdin.isatty() and sys.stderr.isatty():
        return _confirm_commands(console)
    return refuse_commands(lambda line: console.print(line, markup=False, highlight=False))


def _confirm_commands(console: Console):  # type: ignore[no-untyped-def]
    """Ask before each command the model wants to run (interactive terminals only)."""
    from rich.prompt import Confirm

    from plt_agent.agent.permissions import runs_command

    def confirm(action: Any) -> bool:
        if not runs_command(action):
            return True
        command = literal(action.arguments.get("command", ""), 100_000, lines=True)
        console.print(f"[yellow]The model wants to run:[/] {command}", highlight=False)
        return Confirm.ask("Run it?", console=console, default=True)

    return confirm


def _report(result: Any, console: Console) -> None:
    o = result.outcome
    if o.status == "nothing_to_fix":
        console.print("[green]The tests already pass: nothing to fix.[/]")
        return
    loops = f", {plural(o.loops_cut, 'looping reply', 'looping replies')} cut short" if o.loops_cut else ""
    figures = (
        f"{plural(o.steps, 'step')}, {plural(o.tokens, 'token')} ({o.prompt_tokens:,} prompt, "
        f"{o.completion_tokens:,} completion, {o.cached_tokens:,} reused){loops}, {o.seconds:.1f} s, "
        f"mode {result.mode}, model {literal(result.model)}"
    )
    if result.fixed:
        if result.diff:
            sys.stdout.write(result.diff)
            sys.stdout.flush()
        if o.status == "submitted":  # nothing verified the change against the task itself
            console.print(
                f"[bold yellow]Submitted, not verified against the task[/] ({literal(o.message)}). {figures}",
                highlight=False,
            )
        else:
            console.print(f"[bold green]Fixed[/] ({literal(o.message)}). {figures}", highlight=False)
        console.print(
            "The changes are in your working tree"
            + (f", committed as {result.commit}." if result.commit else "; review them with `git diff`.")
        )
    else:
        console.print(
            f"[bold red]Not fixed[/]: {o.status} ({literal(o.message)}). {figures}", highlight=False
        )
        restored = f" ({literal(', '.join(result.restored))})" if result.restored else ""
        console.print(f"Every file the agent changed was put back{restored}.", highlight=False)
        if result.kept_by_user:
            console.print(
                f"[yellow]Left alone (changed by someone else during the run):[/] "
                f"{literal(', '.join(result.kept_by_user))}",
                highlight=False,
            )
    for note in result.notes:
        console.print(f"[yellow]{literal(note)}[/]", highlight=False)
    if result.trajectory:
        console.print(f"[dim]trajectory: {literal(result.trajectory)}[/]", highlight=False)


def recover(
    path: Path = typer.Argument(Path("."), help="The repository (default: the current directory)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Also put back files changed since the run died (their contents saved as a patch).",
    ),
    discard: bool = typer.Option(
        False, "--discard", help="Forget the dead run's record; leave every file as it is now."
    ),
    no_git: bool = typer.Option(False, "--no-git", help="The directory is not a git repository."),
) -> None:
    """Put back what a killed or crashed plt-agent run left in a repository.

    fix, chat and tool run do this by themselves when they start; this does only that. Exit 0 when everything was put back (or nothing was unfinished), 1 when files were left alone, 2 while another run is working there.
    """  # noqa: E501
    from plt_agent.errors import UsageError
    from tools.git import find_root
    from tools.runs import lock_for, recover_all
    from tools.workspace import Workspace

    if not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    root = path if no_git else (find_root(path) or path)
    workspace = Workspace(root, use_git=not no_git)
    lock = lock_for(workspace)
    if lock is not None:
        lock.acquire("recover")
        workspace.reload()
    try:
        found = recover_all(workspace, force=force, discard=discard)
    finally:
        if lock is not None:
            lock.release()
    for rec in found:
        for line in rec.lines():
            err.print(line, highlight=False, markup=False, soft_wrap=True)
    if not found:
        err.print(f"nothing to recover: no unfinished plt-agent run in {workspace.root}", markup=False)
    if any(rec.report.skipped for rec in found):
        err.print(
            "files changed since the run died were left alone: `plt-agent recover --force` puts them "
            "back too (saving their current contents as a patch); `--discard` keeps them as they are",
            markup=False,
        )
    raise typer.Exit(1 if any(rec.report.skipped for rec in found) else 0)


def demo(
    model: str = typer.Option(
        None, "--model", "-M", help="Model spec or store name (default: smollm2-135m)."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the temporary demo repository afterwards."),
) -> None:
    """Copy a small example repository with a failing test and let the agent fix it.

    Uses the default model unless --model is given (the small demonstration model is downloaded on first use). Exit code 0 when the model fixed the bug, 1 when it did not.
    """  # noqa: E501
    raise typer.Exit(run_demo(model, keep=keep, console=err))


def run_demo(model: str | None, *, keep: bool = False, console: Console) -> int:
    """Copy the demo repository to a temporary directory and run `fix` on it; the exit code
    (0 fixed, 1 not fixed). The copy is removed afterwards unless `keep` or the run failed
    (so the user can look at it)."""
    import dataclasses
    import shutil
    import tempfile

    from plt_agent.agent.demo import make_demo_repo
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
