"""Putting back what a run changed: files from the journal, git parts from its record.

- `settle_command(ws)`: a command was in flight (its process died, or this one is closing
  it): journal what it changed against the tree recorded before it.
- `restore_all(ws)`: every journaled file back to its original (content and permission
  bits), files the agent created removed, the git parts its commands changed put back;
  files someone else changed since are left alone unless `force`.
- `revert_in_flight(ws)`: only the command or write in flight when a chat or `tool run`
  died (their finished changes are kept).

`RestoreReport` says what happened; content overwritten without knowing it was the run's
(`replaced`) is reported so the caller can save it. This module knows nothing about locks.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tools.fsutil import fsync_dir, replace_file
from tools.gitstate import GitRepo, GitState, changed_parts
from tools.journal import BIG, Journal, ObjectStore, content_key
from tools.repofiles import is_binary
from tools.treescan import TreeScanner


class Workspace(Protocol):
    """What putting back needs of a workspace (tools.workspace.Workspace is one)."""

    root: Path
    journal: Journal
    store: ObjectStore
    scanner: TreeScanner
    git: GitRepo | None

    def current_key(self, rel: str) -> str | None: ...


@dataclass
class RestoreReport:
    """What a restore did: files written back, removed, left alone (with why); git parts."""

    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    git_restored: list[str] = field(default_factory=list)
    git_skipped: dict[str, str] = field(default_factory=dict)
    replaced: dict[str, str | None] = field(default_factory=dict)  # unattributed content overwritten

    def __bool__(self) -> bool:
        return bool(self.restored or self.removed or self.skipped or self.git_restored or self.git_skipped)


def settle_command(ws: Workspace, *, died: bool = True) -> None:
    """Journal what the command in flight changed (from its recorded baseline) and close it.

    `died`: its process was killed, so no cached stat is trusted (every file is read).
    """
    journal = ws.journal
    if journal.command is None:
        return
    baseline = journal.baseline()
    if died:
        ws.scanner.forget()
    after = ws.scanner.capture()
    before, modes = baseline if baseline is not None else ({}, {})
    for rel in sorted(set(before) | set(after)) if baseline is not None else []:
        if (before.get(rel), modes.get(rel)) != (after.get(rel), ws.scanner.modes.get(rel)):
            journal.note_original(rel, before.get(rel), modes.get(rel))
            journal.entries[rel].last = after.get(rel)
    for folder in _new_dirs(before, after):
        if folder not in journal.created_dirs:
            journal.created_dirs.append(folder)
    git_before = journal.command.get("git")
    if git_before and ws.git:
        start, now = GitState.from_json(git_before), ws.git.capture(ws.store)
        if changed_parts(start, now):
            journal.note_git(start, now)
    journal.end_command()


def restore_all(ws: Workspace, *, force: bool = False) -> RestoreReport:
    """Put back every file the agent changed, and the git state its commands changed.

    Files someone else changed after the agent are skipped (`force` restores them too).
    A command still in flight (its process died) is settled first. The journal keeps
    only what was skipped.
    """
    settle_command(ws)
    report = RestoreReport()
    for rel, entry in sorted(ws.journal.entries.items()):
        current, mode = _current(ws, rel)
        content = current != entry.original
        if not content and (entry.mode is None or current is None or mode == entry.mode):
            continue
        if content and not entry.ours(current):
            if not force:
                report.skipped[rel] = "changed by someone else after the agent's last change"
                continue
            report.replaced[rel] = current and ws.store.put((ws.root / rel).read_bytes())
        _restore_one(ws, rel, entry.original, report, entry.mode, content=content)
    _remove_empty_dirs(ws, ws.journal.created_dirs)
    ws.journal.entries = {rel: ws.journal.entries[rel] for rel in report.skipped}
    ws.journal.created_dirs = []
    restore_git(ws, report)
    return report


def restore_git(ws: Workspace, report: RestoreReport | None = None) -> RestoreReport:
    """Put back the HEAD, refs, stash and index the agent's commands changed (where unchanged since)."""
    report = report if report is not None else RestoreReport()
    change = ws.journal.git_change()
    if change and ws.git:
        report.git_restored, report.git_skipped = ws.git.restore(ws.store, *change)
    ws.journal.git = None
    ws.journal.save()
    return report


def revert_in_flight(ws: Workspace, *, force: bool = False) -> RestoreReport:
    """Undo only what was in flight when a chat or `tool run` died: the command running
    then (back to the tree recorded before it) and writes not yet confirmed."""
    report = RestoreReport()
    journal = ws.journal
    baseline = journal.baseline() if journal.command else None
    if journal.command is not None and baseline is not None:
        before, modes = baseline
        ws.scanner.forget()
        now = ws.scanner.capture()
        for rel in sorted(set(before) | set(now)):
            if (before.get(rel), modes.get(rel)) != (now.get(rel), ws.scanner.modes.get(rel)):
                content = before.get(rel) != now.get(rel)
                if content:
                    report.replaced[rel] = now.get(rel)
                _restore_one(ws, rel, before.get(rel), report, modes.get(rel), content=content)
        _remove_empty_dirs(ws, _new_dirs(before, now))
        git_before = journal.command.get("git")
        if git_before and ws.git:
            start = GitState.from_json(git_before)
            report.git_restored, report.git_skipped = ws.git.restore(
                ws.store, start, ws.git.capture(ws.store)
            )
    journal.command = None
    for rel, entry in sorted(journal.entries.items()):
        if entry.pending is None:
            continue
        current = ws.current_key(rel)
        if current == entry.pending[0] and current != entry.last:
            mode = entry.mode if entry.last == entry.original else None
            _restore_one(ws, rel, entry.last, report, mode)
        elif current != entry.last and not force:
            report.skipped[rel] = "changed by someone else after the agent's last change"
            continue
        entry.pending = None
    journal.save()
    return report


def _current(ws: Workspace, rel: str) -> tuple[str | None, int | None]:
    """The content key and permission bits of a file now ((None, None): no such file)."""
    path = ws.root / rel
    try:
        st = path.lstat()
    except OSError:
        return None, None
    if not stat.S_ISREG(st.st_mode):
        return None, None
    return content_key(path.read_bytes()), stat.S_IMODE(st.st_mode)


def _remove_empty_dirs(ws: Workspace, folders: list[str]) -> None:
    for rel in sorted(folders, key=lambda r: r.count("/"), reverse=True):
        folder = ws.root / rel
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()


def _restore_one(
    ws: Workspace,
    rel: str,
    original: str | None,
    report: RestoreReport,
    mode: int | None = None,
    *,
    content: bool = True,
) -> None:
    path = ws.root / rel
    if original is None:
        if path.is_file() or path.is_symlink():
            path.unlink()
            fsync_dir(path.parent)
        report.removed.append(rel)
        return
    if content:
        why = _write_original(ws, path, original)
        if why:
            report.skipped[rel] = why
            return
    if mode is not None:
        os.chmod(path, mode)
    report.restored.append(rel)


def _write_original(ws: Workspace, path: Path, original: str) -> str:
    if original.startswith(BIG):
        return "its original was too large to record (over 4 MB); not restored"
    data = ws.store.get(original)
    if data is None:
        return f"its recorded original ({original[:12]}) is missing from plt-agent's store; not restored"
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, data)
    return ""


def _new_dirs(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Folders of files that appeared which held none of the files before (made by the command)."""
    new = [rel for rel in after if rel not in before]
    if not new:
        return []
    known = {rel[:i] for rel in before for i in _slashes(rel)}
    return sorted({rel[:i] for rel in new for i in _slashes(rel) if rel[:i] not in known})


def _slashes(rel: str) -> list[int]:
    return [i for i, ch in enumerate(rel) if ch == "/"]


def file_diff(rel: str, original: str | None, old: bytes | None, exists: bool, new: bytes) -> str:
    """A unified diff of one file from its recorded original (key) to `new`."""
    if original and original.startswith(BIG) or old is None:
        return f"--- a/{rel}\n+++ b/{rel}\n(large file changed; its original was not recorded)\n"
    if is_binary(old) or is_binary(new):
        return f"Binary file {rel} changed ({len(old):,} -> {len(new):,} bytes)\n"
    a = f"a/{rel}" if original else "/dev/null"
    b = f"b/{rel}" if exists else "/dev/null"
    old_lines = old.decode("utf-8", "replace").splitlines(keepends=True)
    new_lines = new.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(old_lines, new_lines, a, b)
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
