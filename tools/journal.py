"""Undo data, written ahead: a durable content store and the journal of a run's changes.

- `ObjectStore` keeps file contents by SHA-256 (zlib-compressed files in a private folder,
  or a dict when nothing may be written). Every new blob is fsynced (file and folder)
  before `put` returns; inside `batch()` the syncs are done together when the block ends
  (one `syncfs` for many blobs), still before the caller goes on to change anything.
- `Journal` is the write-ahead record of one run: for every file the agent changes, its
  original content (or that it did not exist), what the agent last left there and the
  change it is about to make (`pending`), saved durably BEFORE the change; the shell
  command in flight with the work-tree baseline captured before it started; the git state
  the agent's commands changed (first and last); the run's owner (pid, start time, command),
  whether it is still running, and how a dead run is undone (`rollback`: "all" for fix,
  "inflight" for chat and `tool run`, whose finished changes are kept).

A journal whose writer died while it was unfinished is recovered by tools.runs before any
new run may start; nothing here clears one silently. Nothing here touches git or the work
tree; the Workspace decides what to change.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.fsutil import atomic_write_bytes, durable_write, fsync_dir
from tools.gitstate import GitState
from tools.runlock import Holder, this_process

BIG = "big:"  # prefix of keys for files too large to store
_SYNCFS_MIN = 16  # from this many new blobs in a batch, one syncfs instead of an fsync each


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ObjectStore:
    """Content-addressed blobs; on disk under `folder` or in memory when `folder` is None."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._memory: dict[str, bytes] = {}
        self._unsynced: list[Path] | None = None

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / key[2:]

    def put(self, data: bytes) -> str:
        key = content_key(data)
        if self.folder is None:
            self._memory[key] = data
            return key
        path = self._path(key)
        if path.exists():
            return key
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(path.parent.parent)
        if self._unsynced is None:
            durable_write(path, zlib.compress(data, 1))
        else:
            atomic_write_bytes(path, zlib.compress(data, 1))
            self._unsynced.append(path)
        return key

    def has(self, key: str) -> bool:
        return key in self._memory if self.folder is None else self._path(key).exists()

    def discard(self, key: str) -> None:
        if self.folder is None:
            self._memory.pop(key, None)
        else:
            self._path(key).unlink(missing_ok=True)

    def get(self, key: str) -> bytes | None:
        if self.folder is None:
            return self._memory.get(key)
        try:
            return zlib.decompress(self._path(key).read_bytes())
        except (OSError, zlib.error):
            return None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Blobs put inside the block are made durable together when it ends."""
        if self._unsynced is not None or self.folder is None:
            yield
            return
        self._unsynced = []
        try:
            yield
        finally:
            paths, self._unsynced = self._unsynced, None
            _sync_all(self.folder, paths)

    def prune(self, keep: set[str]) -> None:
        if self.folder is None:
            self._memory = {k: v for k, v in self._memory.items() if k in keep}
            return
        if not self.folder.is_dir():
            return
        for sub in self.folder.iterdir():
            for blob in sub.iterdir() if sub.is_dir() else []:
                if sub.name + blob.name not in keep and not blob.name.startswith("."):
                    blob.unlink(missing_ok=True)


def _sync_all(folder: Path, paths: list[Path]) -> None:
    if not paths:
        return
    if len(paths) >= _SYNCFS_MIN and _syncfs(folder):
        return
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for parent in {p.parent for p in paths}:
        fsync_dir(parent)


def _syncfs(folder: Path) -> bool:
    """syncfs(2) on the file system holding `folder` (Linux); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return call(fd) == 0
    finally:
        os.close(fd)


@dataclass
class Entry:
    """One journaled file: original key (None: did not exist), the agent's last key, the
    change about to be written (`pending`: [key or None], None when nothing is in flight)
    and the original permission bits (None: unknown, or the file did not exist)."""

    original: str | None
    last: str | None
    pending: list[str | None] | None = None
    mode: int | None = None

    def ours(self, key: str | None) -> bool:
        """Whether `key` is content the agent left (or was writing) here."""
        return key == self.last or (self.pending is not None and key == self.pending[0])


class Journal:
    """The write-ahead record of the changes of one run, persisted durably to `path` if given."""

    def __init__(self, store: ObjectStore, path: Path | None):
        self.store = store
        self.path = path
        self._reset()
        self.state = "idle"  # idle (no run opened it) | running | done
        self.owner: Holder | None = None
        self.writer: Holder | None = None
        self.rollback = "inflight"
        self.root: str | None = None
        self.use_git = True
        self.git_start: dict[str, Any] | None = None
        self.damaged = ""
        self._load()

    def _reset(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.created_dirs: list[str] = []
        self.command: dict[str, Any] | None = None  # the shell command in flight
        self.git: dict[str, Any] | None = None  # {"original": state, "last": state}

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text())
            self.entries = {
                p: Entry(e["original"], e["last"], e.get("pending"), e.get("mode"))
                for p, e in raw["entries"].items()
            }
            self.created_dirs = list(raw.get("created_dirs", []))
            self.command = raw.get("command")
            self.git = raw.get("git")
            self.state = raw.get("state", "idle")
            self.owner = Holder.from_json(raw.get("owner"))
            self.writer = Holder.from_json(raw.get("writer"))
            self.rollback = raw.get("rollback", "inflight")
            self.root = raw.get("root")
            self.use_git = bool(raw.get("use_git", True))
            self.git_start = raw.get("git_start")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self._reset()
            self.damaged = f"{type(exc).__name__}: {exc}"
            aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
                self.damaged += f" (kept as {aside.name})"

    def save(self) -> None:
        if self.path is None:
            return
        self.writer = this_process()
        raw = {
            "version": 2,
            "state": self.state,
            "rollback": self.rollback,
            "root": self.root,
            "use_git": self.use_git,
            "owner": self.owner.to_json() if self.owner else None,
            "writer": self.writer.to_json(),
            "git_start": self.git_start,
            "entries": {p: _entry_json(e) for p, e in self.entries.items()},
            "created_dirs": self.created_dirs,
            "command": self.command,
            "git": self.git,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        durable_write(self.path, json.dumps(raw, indent=1).encode())

    # ---- the run -----------------------------------------------------------------------

    def clear(self) -> None:
        self._reset()
        self.save()

    def open_run(self, owner: Holder, *, rollback: str, root: str, use_git: bool, git_start: GitState | None):
        self.state, self.owner, self.rollback = "running", owner, rollback
        self.root, self.use_git = root, use_git
        self.git_start = git_start.to_json() if git_start else None
        self.save()

    def close_run(self) -> None:
        self.state = "done"
        self.save()

    def in_flight(self) -> bool:
        """A change was being made when the journal was last written (a command, a write)."""
        return self.command is not None or any(e.pending is not None for e in self.entries.values())

    def unfinished(self) -> bool:
        return self.state == "running" or self.in_flight()

    def writer_alive(self) -> bool:
        """Whether a live process other than this one may still be working on this journal."""
        for who in (self.writer, self.owner if self.state == "running" else None):
            if who is not None and not who.is_us() and who.alive():
                return True
        return False

    # ---- files ---------------------------------------------------------------------------

    def note_intent(self, rel: str, original: str | None, new: str | None, mode: int | None) -> None:
        """Before a write or delete: record the original (first time) and the change to come."""
        entry = self.entries.setdefault(rel, Entry(original, original, None, mode))
        entry.pending = [new]
        self.save()

    def note_original(self, rel: str, original: str | None, mode: int | None = None) -> None:
        """Record the content a file had before its first change in this run (first call wins)."""
        if rel not in self.entries:
            self.entries[rel] = Entry(original, original, None, mode)

    def note_written(self, rel: str, key: str | None) -> None:
        entry = self.entries[rel]
        entry.last, entry.pending = key, None
        self.save()

    def note_created_dir(self, rel: str) -> None:
        if rel not in self.created_dirs:
            self.created_dirs.append(rel)
            self.save()

    # ---- commands and git ----------------------------------------------------------------

    def begin_command(
        self, text: str, baseline: dict[str, str], modes: dict[str, int], git: GitState | None
    ) -> None:
        """Before a command: the whole tree ({path: key}, permission bits) and git state, durably."""
        data = json.dumps({"keys": baseline, "modes": modes}, separators=(",", ":")).encode()
        key = self.store.put(data)
        self.command = {"text": text, "started": time.time(), "baseline": key}
        self.command["git"] = git.to_json() if git else None
        self.save()

    def baseline(self) -> tuple[dict[str, str], dict[str, int]] | None:
        """The work tree recorded before the command in flight ({path: key}, {path: mode})."""
        if self.command is None:
            return None
        data = self.store.get(self.command["baseline"])
        if data is None:
            return None
        raw = json.loads(data)
        return raw["keys"], raw["modes"]

    def note_git(self, before: GitState, after: GitState) -> None:
        if self.git is None:
            self.git = {"original": before.to_json(), "last": after.to_json()}
        else:
            self.git["last"] = after.to_json()

    def end_command(self) -> None:
        baseline = self.command["baseline"] if self.command else None
        self.command = None
        self.save()
        if baseline:
            self.store.discard(baseline)  # settled: the tree record is not needed any more

    def git_change(self) -> tuple[GitState, GitState] | None:
        if not self.git:
            return None
        return GitState.from_json(self.git["original"]), GitState.from_json(self.git["last"])

    def keys(self) -> set[str]:
        """Every store key this journal needs (originals, last and pending contents, git copies)."""
        keys = {k for e in self.entries.values() for k in (e.original, e.last) if k}
        keys |= {e.pending[0] for e in self.entries.values() if e.pending and e.pending[0]}
        if self.command:
            keys.add(self.command["baseline"])
            if self.command.get("git"):
                keys |= _git_keys(self.command["git"])
        for state in (self.git or {}).values():
            keys |= _git_keys(state)
        if self.git_start:
            keys |= _git_keys(self.git_start)
        return keys


def _entry_json(e: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"original": e.original, "last": e.last}
    if e.pending is not None:
        out["pending"] = e.pending
    if e.mode is not None:
        out["mode"] = e.mode
    return out


def _git_keys(raw: dict[str, Any]) -> set[str]:
    return {k for k in (raw.get("index"), raw.get("stash_log")) if k}
