"""Tab completion for the chat's input line: slash commands, and paths after the commands that take files.

`completions(before_cursor, root, chat_files)` is the whole contract: the candidates for the
word that ends at the cursor, each `(replacement, display)`, where the replacement replaces
that word (what follows the line's last space, as `Terminal.complete` expects). Rules:
- a line that is only `/word`: the commands and aliases that start with it;
- after `/add` (or another command whose usage names a FILE): paths under `root`, relative
  to it, a directory with a trailing `/`; hidden entries only when the typed name starts
  with `.`; never `.git`; never outside `root`;
- after `/drop`: the files in the chat;
- anything else (a message to the model): nothing.

Pure: it reads the directory listing, nothing else; the terminal turns the candidates into
its own completion objects.
"""

from __future__ import annotations

import os
from pathlib import Path

from plt_agent.repl.commands import ALIASES, COMMANDS

MAX_CANDIDATES = 200  # a huge directory is cut, not listed in full


def completions(before_cursor: str, root: Path, chat_files: list[str]) -> list[tuple[str, str]]:
    """Candidates `(replacement, display)` for the word that ends at the cursor."""
    if not before_cursor.startswith("/") or before_cursor.startswith("//"):
        return []
    word, space, rest = before_cursor.partition(" ")
    if not space:
        names = sorted(n for n in [*COMMANDS, *ALIASES] if n.startswith(word.lower()))
        return [(n, n) for n in names]
    command = COMMANDS.get(ALIASES.get(word.lower(), word.lower()))
    if command is None:
        return []
    current = rest.rsplit(" ", 1)[-1]
    if command.name == "/drop":
        return [(f, f) for f in chat_files if f.startswith(current)]
    if "FILE" in command.usage:
        return _paths(current, root)
    return []


def _paths(typed: str, root: Path) -> list[tuple[str, str]]:
    folder, _, prefix = typed.rpartition("/")
    base = (root / folder).resolve() if folder else root.resolve()
    try:
        base.relative_to(root.resolve())
    except ValueError:
        return []  # outside the repository: /add refuses it anyway
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for entry in entries:
        name = entry.name
        if (
            not name.startswith(prefix)
            or name == ".git"
            or (name.startswith(".") and not prefix.startswith("."))
        ):
            continue
        is_dir = entry.is_dir()
        path = f"{folder}/{name}" if folder else name
        out.append((path + ("/" if is_dir else ""), name + ("/" if is_dir else "")))
        if len(out) >= MAX_CANDIDATES:
            break
    return out
