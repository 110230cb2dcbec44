"""Finding processes by a tag in their command line, for tests that check nothing outlives a run."""

from __future__ import annotations

import os
from pathlib import Path


def alive_with(tag: str) -> list[int]:
    """Pids of live (not zombie) processes, other than this one, whose command line holds `tag`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if tag.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found
