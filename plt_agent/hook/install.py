"""Install and uninstall the plt-agent pre-commit hook in a git repository.

`install` writes a small POSIX sh script as the repository's `pre-commit` hook (in the
directory git really uses: core.hooksPath is honoured). A hook that was already there is
kept: it is renamed to `pre-commit.plt-agent-orig` (same bytes, same mode) and the new
script runs it first, so its non-zero exit still blocks the commit. `uninstall` puts it back
exactly. Installing twice only refreshes the script. The script calls `plt-agent hook run`
by absolute path and lets the commit through when that program is gone.

This module knows nothing about reviews, models or checks.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from plt_agent.errors import UsageError
from tools.git import hooks_dir, repo_root

HOOK_NAME = "pre-commit"
ORIG_SUFFIX = ".plt-agent-orig"
MARKER = "# plt-agent pre-commit hook"


@dataclass(frozen=True)
class HookStatus:
    """What `install`/`uninstall` found and did, for the CLI to report."""

    hook: Path
    kept: Path | None  # the user's previous hook, when there is one
    action: str  # "installed" | "updated" | "uninstalled" | "restored"


def default_command() -> str:
    """How the hook calls us: the console script next to this interpreter, else `python -m`."""
    script = Path(sys.executable).with_name("plt-agent")
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    found = shutil.which("plt-agent")
    if found:
        return shlex.quote(str(Path(found).resolve()))
    return f"{shlex.quote(sys.executable)} -m plt_agent.cli"


def render_script(command: str, run_args: str = "") -> str:
    """The hook script text. `command` is a shell-quoted way to start plt-agent."""
    program = shlex.split(command)[0]
    args = f" {run_args}" if run_args else ""
    return f"""#!/bin/sh
{MARKER} (installed by `plt-agent hook install`; remove with `plt-agent hook uninstall`)
# A hook that was here before is kept as {HOOK_NAME}{ORIG_SUFFIX} and runs first.
orig="$(dirname "$0")/{HOOK_NAME}{ORIG_SUFFIX}"
if [ -x "$orig" ]; then
    "$orig" "$@" || exit $?
fi
if ! command -v {shlex.quote(program)} >/dev/null 2>&1; then
    echo "plt-agent: {program} not found; skipping the review" >&2
    exit 0
fi
exec {command} hook run{args}
"""


def is_ours(path: Path) -> bool:
    try:
        return MARKER.encode() in path.read_bytes()[:400]
    except OSError:
        return False


def install(path: Path, command: str | None = None, run_args: str = "") -> HookStatus:
    """Install (or refresh) the hook in the repository containing `path`."""
    hook = hooks_dir(repo_root(path)) / HOOK_NAME
    kept = hook.with_name(HOOK_NAME + ORIG_SUFFIX)
    hook.parent.mkdir(parents=True, exist_ok=True)
    action = "updated" if is_ours(hook) else "installed"
    if action == "installed" and (hook.exists() or hook.is_symlink()):
        if kept.exists() or kept.is_symlink():
            raise UsageError(
                f"{hook} is not plt-agent's hook and {kept.name} already exists; move one of them away first"
            )
        os.replace(hook, kept)
    _write_executable(hook, render_script(command or default_command(), run_args))
    return HookStatus(hook, kept if kept.exists() or kept.is_symlink() else None, action)


def uninstall(path: Path) -> HookStatus:
    """Remove the hook and put back the one it replaced, byte for byte and mode for mode."""
    hook = hooks_dir(repo_root(path)) / HOOK_NAME
    kept = hook.with_name(HOOK_NAME + ORIG_SUFFIX)
    if not is_ours(hook):
        what = "is not plt-agent's hook" if hook.exists() else "does not exist"
        raise UsageError(f"plt-agent's hook is not installed: {hook} {what}")
    if kept.exists() or kept.is_symlink():
        os.replace(kept, hook)
        return HookStatus(hook, hook, "restored")
    hook.unlink()
    return HookStatus(hook, None, "uninstalled")


def _write_executable(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".plt-agent-tmp")
    tmp.write_text(text)
    mode = tmp.stat().st_mode
    tmp.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(tmp, path)
