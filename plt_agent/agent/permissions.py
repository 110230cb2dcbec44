"""Which actions run a command of the model's choosing, and what a run without a terminal does.

`runs_command(action)`: `bash`, and `run_tests` given its own `command` (the configured or
detected test command needs no permission: the user chose it, or the repository did).
A `confirm` callback (see plt_agent.agent.loop.Agent) answers True to run an action, False
when the user declined, or a string: the action is refused and the string is what the model
is told. `refuse_commands(announce)` is the callback for a run with no terminal to ask in and
no --yes: every command is refused with `NO_TERMINAL`, and `announce` is told why once.

This module knows nothing about terminals or consoles; the caller passes `announce`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NO_TERMINAL = (
    "Refused: this run has no terminal to ask the user for permission, and the user did not "
    "allow shell commands (--yes), so {name} cannot run commands. Work with the other tools: "
    "view, search and edit the files; run_tests (without `command`) runs the tests."
)
ANNOUNCE = (
    "plt-agent: the model's shell commands are refused: there is no terminal to ask you "
    "(stdin is not a terminal); pass --yes to allow them"
)


def runs_command(action: Any) -> bool:
    """Whether `action` would run a command line the model wrote."""
    if action.name == "bash":
        return True
    return action.name == "run_tests" and bool(str(action.arguments.get("command") or "").strip())


def refuse_commands(announce: Callable[[str], None]) -> Callable[[Any], bool | str]:
    """A confirm callback that refuses every command (and says so once through `announce`)."""
    said: list[bool] = []

    def confirm(action: Any) -> bool | str:
        if not runs_command(action):
            return True
        if not said:
            said.append(True)
            announce(ANNOUNCE)
        return NO_TERMINAL.format(name=action.name)

    return confirm
