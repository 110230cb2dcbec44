"""Undo data: a content store, a copy-on-first-write journal and a work-tree scanner.

- `ObjectStore` keeps file contents by SHA-256 (zlib-compressed files in a private folder,
  or a dict when nothing may be written).
- `Journal` remembers, for every file the agent changed in this run, its original content
  (or that it did not exist) and what the agent last left there, so undo restores exactly
  those files and can tell when someone else changed them since.
- `TreeScanner` captures {path: content key} for the whole work tree, re-reading only files
  whose stat changed, so changes made by shell commands can be attributed and undone.

Nothing here touches git's index, refs, stash or object database. This module knows
nothing about tools or path policy (the Workspace decides which paths are allowed).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The scanner stores files up to this size; bigger ones are noticed but cannot be undone.
MAX_CAPTURE_BYTES = 4 * 1024 * 1024
_RACY_NS = 2_000_000_000  # a file modified this close to a capture is re-read next time
BIG = "big:"  # prefix of keys for files too large to store


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and os.replace (private state files)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class ObjectStore:
    """Content-addressed blobs; on disk under `folder` or in memory when `folder` is None."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._memory: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = content_key(data)
        if self.folder is None:
            self._memory[key] = data
            return key
        path = self.folder / key[:2] / key[2:]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, zlib.compress(data, 1))
        return key

    def get(self, key: str) -> bytes | None:
        if self.folder is None:
            return self._memory.get(key)
        path = self.folder / key[:2] / key[2:]
        try:
            return zlib.decompress(path.read_bytes())
        except (OSError, zlib.error):
            return None

    def prune(self, keep: set[str]) -> None:
        if self.folder is None:
            self._memory = {k: v for k, v in self._memory.items() if k in keep}
            return
        if not self.folder.is_dir():
            return
        for sub in self.folder.iterdir():
            for blob in sub.iterdir() if sub.is_dir() else []:
                if sub.name + blob.name not in keep:
                    blob.unlink(missing_ok=True)


@dataclass
class Entry:
    """One journaled file: its original content key (None: did not exist) and the agent's last key."""

    original: str | None
    last: str | None


class Journal:
    """Copy-on-first-write record of the files changed in this run, persisted to `path` if given."""

    def __init__(self, store: ObjectStore, path: Path | None):
        self.store = store
        self.path = path
        self.entries: dict[str, Entry] = {}
        self.created_dirs: list[str] = []
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text())
            self.entries = {p: Entry(e["original"], e["last"]) for p, e in raw["entries"].items()}
            self.created_dirs = list(raw.get("created_dirs", []))
        except (OSError, ValueError, KeyError, TypeError):
            self.entries, self.created_dirs = {}, []

    def save(self) -> None:
        if self.path is None:
            return
        raw = {
            "version": 1,
            "entries": {p: {"original": e.original, "last": e.last} for p, e in self.entries.items()},
            "created_dirs": self.created_dirs,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, json.dumps(raw, indent=1).encode())

    def clear(self) -> None:
        self.entries, self.created_dirs = {}, []
        self.save()

    def note_original(self, rel: str, original: str | None) -> None:
        """Record the content a file had before its first change in this run (first call wins)."""
        if rel not in self.entries:
            self.entries[rel] = Entry(original, original)

    def note_written(self, rel: str, key: str | None) -> None:
        self.entries[rel].last = key
        self.save()

    def note_created_dir(self, rel: str) -> None:
        if rel not in self.created_dirs:
            self.created_dirs.append(rel)
            self.save()

    def keys(self) -> set[str]:
        return {k for e in self.entries.values() for k in (e.original, e.last) if k}


@dataclass
class _Stat:
    size: int
    mtime_ns: int
    ino: int
    key: str


class TreeScanner:
    """Captures {relpath: content key} of the files `list_files()` returns, caching by stat."""

    def __init__(
        self, root: Path, list_files: Callable[[], list[str]], store: ObjectStore, cache: Path | None
    ):
        self.root = root
        self.list_files = list_files
        self.store = store
        self.cache_path = cache
        self._stats: dict[str, _Stat] = {}
        self._captured_ns = 0
        self._load()

    def _load(self) -> None:
        if self.cache_path is None or not self.cache_path.exists():
            return
        try:
            raw = json.loads(self.cache_path.read_text())
            self._captured_ns = int(raw["captured_ns"])
            self._stats = {p: _Stat(*v) for p, v in raw["stats"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            self._stats = {}

    def _save(self) -> None:
        if self.cache_path is None:
            return
        raw = {
            "captured_ns": self._captured_ns,
            "stats": {p: [s.size, s.mtime_ns, s.ino, s.key] for p, s in self._stats.items()},
        }
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.cache_path, json.dumps(raw).encode())

    def capture(self) -> dict[str, str]:
        now = time.time_ns()
        fresh: dict[str, _Stat] = {}
        for rel in self.list_files():
            stat = self._stat(rel)
            if stat is not None:
                fresh[rel] = stat
        self._stats, self._captured_ns = fresh, now
        self._save()
        return {rel: s.key for rel, s in fresh.items()}

    def _stat(self, rel: str) -> _Stat | None:
        path = self.root / rel
        try:
            st = path.lstat()
        except OSError:
            return None
        old = self._stats.get(rel)
        racy = old is not None and old.mtime_ns >= self._captured_ns - _RACY_NS
        if old and not racy and (old.size, old.mtime_ns, old.ino) == (st.st_size, st.st_mtime_ns, st.st_ino):
            return old
        if st.st_size > MAX_CAPTURE_BYTES:
            return _Stat(st.st_size, st.st_mtime_ns, st.st_ino, f"{BIG}{st.st_size}:{st.st_mtime_ns}")
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return _Stat(st.st_size, st.st_mtime_ns, st.st_ino, self.store.put(data))

    def forget(self) -> None:
        """Drop the stat cache (the next capture re-reads every file)."""
        self._stats = {}
        self._save()

    def live_keys(self) -> set[str]:
        return {s.key for s in self._stats.values() if not s.key.startswith(BIG)}
