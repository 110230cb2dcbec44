"""A cheap, durable snapshot of the work tree: {path: content key} for every repository file.

`TreeScanner.capture()` lists the files (tracked and untracked, .gitignore respected),
lstat()s each one (`modes` keeps the permission bits of the last capture) and re-reads only
files whose size, mtime or inode changed since the last capture (or were modified too close
to it to trust the stat); their contents go into the ObjectStore and are made durable (one
syncfs for many) before `capture` returns. So after a capture, every file's content at that
moment can be put back, whatever a command then does to the tree. Files over
MAX_CAPTURE_BYTES are noticed (size and mtime) but not stored; ignored files are not
captured at all.

The stat cache persists between processes; a cached key whose blob is missing from the store
is re-read. This module knows nothing about tools, journals or git.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.journal import BIG, ObjectStore, atomic_write_bytes

# The scanner stores files up to this size; bigger ones are noticed but cannot be undone.
MAX_CAPTURE_BYTES = 4 * 1024 * 1024
_RACY_NS = 2_000_000_000  # a file modified this close to a capture is re-read next time


@dataclass
class _Stat:
    size: int
    mtime_ns: int
    ino: int
    key: str
    mode: int = 0o644  # permission bits


class TreeScanner:
    """Captures {relpath: content key} of the files `list_files()` returns, caching by stat."""

    def __init__(
        self, root: Path, list_files: Callable[[], list[str]], store: ObjectStore, cache: Path | None
    ):
        self.root = root
        self._base = str(root)
        self.list_files = list_files
        self.store = store
        self.cache_path = cache
        self._stats: dict[str, _Stat] = {}
        self._captured_ns = 0
        self.modes: dict[str, int] = {}  # permission bits of the files of the last capture
        self._load()

    def _load(self) -> None:
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            raw = json.loads(self.cache_path.read_text())
            self._captured_ns = int(raw["captured_ns"])
            stats = {p: _Stat(*v) for p, v in raw["stats"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return
        self._stats = {p: s for p, s in stats.items() if s.key.startswith(BIG) or self.store.has(s.key)}

    def _save(self) -> None:
        if self.cache_path is None:
            return
        raw = {
            "captured_ns": self._captured_ns,
            "stats": {p: [s.size, s.mtime_ns, s.ino, s.key, s.mode] for p, s in self._stats.items()},
        }
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.cache_path, json.dumps(raw).encode())

    def capture(self, *, save: bool = True) -> dict[str, str]:
        """{path: content key} now. `save=False` keeps the stat cache in memory only."""
        now = time.time_ns()
        fresh: dict[str, _Stat] = {}
        with self.store.batch():
            for rel in self.list_files():
                found = self._stat(rel)
                if found is not None:
                    fresh[rel] = found
        self._stats, self._captured_ns = fresh, now
        if save:
            self._save()
        self.modes = {rel: s.mode for rel, s in fresh.items()}
        return {rel: s.key for rel, s in fresh.items()}

    def _stat(self, rel: str) -> _Stat | None:
        path = os.path.join(self._base, rel)
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        old = self._stats.get(rel)
        mode = stat.S_IMODE(st.st_mode)
        racy = old is not None and old.mtime_ns >= self._captured_ns - _RACY_NS
        if old and not racy and (old.size, old.mtime_ns, old.ino) == (st.st_size, st.st_mtime_ns, st.st_ino):
            return old if old.mode == mode else _Stat(old.size, old.mtime_ns, old.ino, old.key, mode)
        if st.st_size > MAX_CAPTURE_BYTES:
            return _Stat(st.st_size, st.st_mtime_ns, st.st_ino, f"{BIG}{st.st_size}:{st.st_mtime_ns}", mode)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        return _Stat(st.st_size, st.st_mtime_ns, st.st_ino, self.store.put(data), mode)

    def forget(self) -> None:
        """Drop the stat cache (the next capture re-reads every file)."""
        self._stats = {}
        self._save()

    def live_keys(self) -> set[str]:
        return {s.key for s in self._stats.values() if not s.key.startswith(BIG)}
