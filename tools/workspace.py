"""The repository the tools act on: safe paths, atomic writes, and a journal for diff and undo.

`Workspace(root)` resolves every path inside `root` (`..`, absolute paths and symlinks that
lead outside are refused with a message for the model), reads and writes files atomically
(temp file + fsync + os.replace, mode bits kept), and keeps a write-ahead journal of the
files the agent changes (tools.journal): the original and the change about to be made are
on disk, fsynced, before the file is touched. `changed_files()`, `diff()` and
`restore_all()` answer "what did the agent change since the snapshot" and "put it back".

Commands that may change files run inside `track_changes()`: the whole work tree is
captured (tools.treescan) and the capture recorded in the journal before the command
starts, with HEAD, refs, stash and index (tools.gitstate); after it, the differences are
journaled. A run killed in the middle of a command can therefore still be undone
(tools.runs recovers it). `restore_all` also puts back the git state the agent's commands
changed, where nobody changed it since.

The journal and caches live in `<git dir>/plt-agent/` (or the user's cache dir outside git),
so separate `plt-agent tool run` calls share one journal until `snapshot()` starts a new
one. Apart from putting back what the agent's own commands changed, nothing here touches
the user's index, stash, branches or history.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tools.base import ToolError
from tools.gitstate import GitRepo, GitState, changed_parts
from tools.journal import BIG, Journal, ObjectStore, content_key
from tools.repofiles import MAX_TEXT_BYTES, is_binary, list_files, run_dir, state_dir
from tools.runlock import RepositoryBusy, fsync_dir
from tools.treescan import TreeScanner


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


class UnfinishedRun(ToolError):
    """A dead run left a journal that must be recovered first (exit code 2)."""

    exit_code = 2


class Workspace:
    """A repository directory the tools may read and change."""

    def __init__(
        self,
        root: str | Path,
        *,
        use_git: bool = True,
        test_command: str | None = None,
        state: str | Path | None = None,
        persist: bool = True,
    ):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise ToolError(f"the repository root {root} is not a directory")
        self.use_git = use_git
        self.test_command = test_command
        self.state_dir = Path(state) if state else state_dir(self.root, use_git=use_git)
        self.run_dir = Path(state) if state else run_dir(self.root, use_git=use_git)
        folder = self.state_dir if persist and self._state_writable() else None
        self.persisted = folder is not None
        self.store = ObjectStore(folder / "objects" if folder else None)
        self._folder = folder
        self.reload()
        self._git: GitRepo | None | bool = False  # found on first use

    def reload(self) -> None:
        """Read the journal and stat cache from disk again (another process may have changed them)."""
        folder = self._folder
        self.journal = Journal(self.store, folder / "journal.json" if folder else None)
        self.scanner = TreeScanner(
            self.root,
            lambda: list_files(self.root, use_git=self.use_git, check=False),  # the scanner lstat()s each
            self.store,
            folder / "stat-cache.json" if folder else None,
        )

    @property
    def git(self) -> GitRepo | None:
        """The git repository whose HEAD/index/refs/stash the run guards (None: not using git)."""
        if self._git is False:
            self._git = GitRepo.find(self.root) if self.use_git else None
        return self._git  # type: ignore[return-value]

    def _state_writable(self) -> bool:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.state_dir, os.W_OK)

    # ---- paths -------------------------------------------------------------------------

    def resolve(self, path: str | Path, *, for_write: bool = False) -> Path:
        """The absolute path of `path` (relative to the root, or absolute inside it)."""
        text = str(path).strip()
        if not text:
            raise ToolError("empty path: give a path relative to the repository root, e.g. src/app.py")
        raw = Path(text)
        lexical = Path(os.path.normpath(raw if raw.is_absolute() else self.root / raw))
        if not _inside(lexical, self.root):
            kind = "absolute path" if raw.is_absolute() else "path"
            raise ToolError(
                f"{kind} {text} is outside the repository ({self.root}); "
                "use a path relative to the repository root"
            )
        real = lexical.resolve()
        if not _inside(real, self.root):
            raise ToolError(
                f"{text} is a symlink (or under one) that leads outside the repository, to {real}; "
                "only files inside the repository can be used"
            )
        if for_write and self.relpath(real).split("/")[0] == ".git":
            raise ToolError(f"{text} is inside .git; the tools do not change git's own files")
        return real

    def relpath(self, path: str | Path) -> str:
        """The POSIX path of an absolute path inside the root, relative to it ('.' for the root)."""
        return Path(path).relative_to(self.root).as_posix()

    def files(self) -> list[str]:
        """Repository files (tracked and untracked, .gitignore respected), relative, sorted."""
        return list_files(self.root, use_git=self.use_git)

    # ---- reading -----------------------------------------------------------------------

    def read_bytes(self, path: str | Path) -> bytes:
        target = self.resolve(path)
        if target.is_dir():
            raise ToolError(f"{path} is a directory, not a file")
        if not target.exists():
            raise ToolError(f"{path} does not exist; use find or view on a folder to see what is there")
        return target.read_bytes()

    def read_text(self, path: str | Path, *, limit: int = MAX_TEXT_BYTES) -> str:
        """The file's text (UTF-8, undecodable bytes kept as surrogates so writes round-trip)."""
        target = self.resolve(path)
        if target.is_file() and target.stat().st_size > limit:
            size = target.stat().st_size
            raise ToolError(f"{path} is {size:,} bytes, too large to read whole; use view with start/end")
        data = self.read_bytes(path)
        if is_binary(data):
            raise ToolError(f"{path} is a binary file ({len(data):,} bytes); it cannot be shown or edited")
        return data.decode("utf-8", "surrogateescape")

    # ---- writing -----------------------------------------------------------------------

    def write_text(self, path: str | Path, text: str) -> Path:
        return self.write_bytes(path, text.encode("utf-8", "surrogateescape"))

    def write_bytes(self, path: str | Path, data: bytes) -> Path:
        """Atomically replace (or create) a file; its original and the change are journaled first."""
        target = self.resolve(path, for_write=True)
        if target.is_dir():
            raise ToolError(f"{path} is a directory; give a file path")
        rel = self.relpath(target)
        new = self.store.put(data)
        self._journal_intent(rel, target, new)
        self._make_parents(target.parent)
        _atomic_write(target, data)
        self.journal.note_written(rel, new)
        return target

    def delete(self, path: str | Path) -> None:
        target = self.resolve(path, for_write=True)
        if not target.is_file():
            raise ToolError(f"{path} is not a file")
        rel = self.relpath(target)
        self._journal_intent(rel, target, None)
        target.unlink()
        fsync_dir(target.parent)
        self.journal.note_written(rel, None)

    def _journal_intent(self, rel: str, target: Path, new: str | None) -> None:
        entry = self.journal.entries.get(rel)
        if entry is not None:
            original = entry.original
        else:
            original = self.store.put(target.read_bytes()) if target.is_file() else None
        mode = stat.S_IMODE(target.lstat().st_mode) if target.is_file() else None
        self.journal.note_intent(rel, original, new, mode)

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for made in reversed(missing):
            self.journal.note_created_dir(self.relpath(made))  # noted first: a crash leaves no stray folder
            made.mkdir()

    # ---- snapshot and commands ---------------------------------------------------------

    def snapshot(self) -> None:
        """Start a new baseline: forget a finished journal; the tree as it is now is the baseline.

        An unfinished journal (a run died in the middle, or another process is working) is
        never dropped: UnfinishedRun / RepositoryBusy say what to do.
        """
        self.check_no_unfinished_run()
        self.journal.clear()
        if not self.journal.damaged:
            self.store.prune(self.scanner.live_keys())

    def check_no_unfinished_run(self) -> None:
        journal = self.journal
        if not journal.unfinished() or (journal.writer is not None and journal.writer.is_us()):
            return
        who = journal.owner or journal.writer
        named = who.describe() if who else "an earlier plt-agent run"
        if journal.writer_alive():
            raise RepositoryBusy(f"another plt-agent run is working in this repository: {named}")
        raise UnfinishedRun(
            f"{named} stopped before it finished and left changes in {self.root}; "
            "run `plt-agent recover` to put them back first"
        )

    @contextmanager
    def track_changes(self, command: str = "", *, git: bool = True) -> Iterator[None]:
        """Journal every file (and, with `git`, git part) a command run inside this block changes.

        The tree and git state before it are on disk before the block runs, so a process
        killed inside the block can still be undone (see `restore_all`).
        """
        before = self.scanner.capture(save=False)  # saved after the command, with its changes
        git_before = self.git.capture(self.store) if git and self.git else None
        self.journal.begin_command(command, before, self.scanner.modes, git_before)
        try:
            yield
        finally:
            self.settle_command(died=False)

    def settle_command(self, *, died: bool = True) -> None:
        """Journal what the command in flight changed (from its recorded baseline) and close it.

        `died`: its process was killed, so no cached stat is trusted (every file is read).
        """
        journal = self.journal
        if journal.command is None:
            return
        baseline = journal.baseline()
        if died:
            self.scanner.forget()
        after = self.scanner.capture()
        before, modes = baseline if baseline is not None else ({}, {})
        for rel in sorted(set(before) | set(after)) if baseline is not None else []:
            if (before.get(rel), modes.get(rel)) != (after.get(rel), self.scanner.modes.get(rel)):
                journal.note_original(rel, before.get(rel), modes.get(rel))
                journal.entries[rel].last = after.get(rel)
        for folder in _new_dirs(before, after):
            if folder not in journal.created_dirs:
                journal.created_dirs.append(folder)
        git_before = journal.command.get("git")
        if git_before and self.git:
            start, now = GitState.from_json(git_before), self.git.capture(self.store)
            if changed_parts(start, now):
                journal.note_git(start, now)
        journal.end_command()

    # ---- diff and undo -----------------------------------------------------------------

    def _current_key(self, rel: str) -> str | None:
        path = self.root / rel
        return content_key(path.read_bytes()) if path.is_file() else None

    def changed_files(self) -> list[str]:
        """Files whose content or existence differs from the snapshot, because of the agent."""
        return [
            rel for rel, e in sorted(self.journal.entries.items()) if self._current_key(rel) != e.original
        ]

    def diff(self) -> str:
        """A unified diff of the agent's changes since the snapshot ('' when there are none)."""
        return "".join(self._file_diff(rel) for rel in self.changed_files())

    def _file_diff(self, rel: str) -> str:
        original = self.journal.entries[rel].original
        path = self.root / rel
        new = path.read_bytes() if path.is_file() else b""
        return file_diff(rel, original, self.store.get(original) if original else b"", path.is_file(), new)

    def restore_all(self, *, force: bool = False) -> RestoreReport:
        """Put back every file the agent changed, and the git state its commands changed.

        Files someone else changed after the agent are skipped (`force` restores them too).
        A command still in flight (its process died) is settled first. The journal keeps
        only what was skipped.
        """
        self.settle_command()
        report = RestoreReport()
        for rel, entry in sorted(self.journal.entries.items()):
            current, mode = self._current(rel)
            content = current != entry.original
            if not content and (entry.mode is None or current is None or mode == entry.mode):
                continue
            if content and not entry.ours(current):
                if not force:
                    report.skipped[rel] = "changed by someone else after the agent's last change"
                    continue
                report.replaced[rel] = current and self.store.put((self.root / rel).read_bytes())
            self._restore_one(rel, entry.original, report, entry.mode, content=content)
        self._remove_created_dirs()
        self.journal.entries = {rel: self.journal.entries[rel] for rel in report.skipped}
        self.journal.created_dirs = []
        self.restore_git(report)
        return report

    def restore_git(self, report: RestoreReport | None = None) -> RestoreReport:
        """Put back the HEAD, refs, stash and index the agent's commands changed (where unchanged since)."""
        report = report if report is not None else RestoreReport()
        change = self.journal.git_change()
        if change and self.git:
            report.git_restored, report.git_skipped = self.git.restore(self.store, *change)
        self.journal.git = None
        self.journal.save()
        return report

    def revert_in_flight(self, *, force: bool = False) -> RestoreReport:
        """Undo only what was in flight when a chat or `tool run` died: the command running
        then (back to the tree recorded before it) and writes not yet confirmed."""
        report = RestoreReport()
        journal = self.journal
        baseline = journal.baseline() if journal.command else None
        if journal.command is not None and baseline is not None:
            before, modes = baseline
            self.scanner.forget()
            now = self.scanner.capture()
            for rel in sorted(set(before) | set(now)):
                if (before.get(rel), modes.get(rel)) != (now.get(rel), self.scanner.modes.get(rel)):
                    content = before.get(rel) != now.get(rel)
                    if content:
                        report.replaced[rel] = now.get(rel)
                    self._restore_one(rel, before.get(rel), report, modes.get(rel), content=content)
            self._remove_empty_dirs(_new_dirs(before, now))
            git_before = journal.command.get("git")
            if git_before and self.git:
                start = GitState.from_json(git_before)
                report.git_restored, report.git_skipped = self.git.restore(
                    self.store, start, self.git.capture(self.store)
                )
        journal.command = None
        for rel, entry in sorted(journal.entries.items()):
            if entry.pending is None:
                continue
            current = self._current_key(rel)
            if current == entry.pending[0] and current != entry.last:
                mode = entry.mode if entry.last == entry.original else None
                self._restore_one(rel, entry.last, report, mode)
            elif current != entry.last and not force:
                report.skipped[rel] = "changed by someone else after the agent's last change"
                continue
            entry.pending = None
        journal.save()
        return report

    def _current(self, rel: str) -> tuple[str | None, int | None]:
        """The content key and permission bits of a file now ((None, None): no such file)."""
        path = self.root / rel
        try:
            st = path.lstat()
        except OSError:
            return None, None
        if not stat.S_ISREG(st.st_mode):
            return None, None
        return content_key(path.read_bytes()), stat.S_IMODE(st.st_mode)

    def _remove_created_dirs(self) -> None:
        self._remove_empty_dirs(self.journal.created_dirs)

    def _remove_empty_dirs(self, folders: list[str]) -> None:
        for rel in sorted(folders, key=lambda r: r.count("/"), reverse=True):
            folder = self.root / rel
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                folder.rmdir()

    def _restore_one(
        self,
        rel: str,
        original: str | None,
        report: RestoreReport,
        mode: int | None = None,
        *,
        content: bool = True,
    ) -> None:
        path = self.root / rel
        if original is None:
            if path.is_file() or path.is_symlink():
                path.unlink()
                fsync_dir(path.parent)
            report.removed.append(rel)
            return
        if content:
            why = self._write_original(path, original)
            if why:
                report.skipped[rel] = why
                return
        if mode is not None:
            os.chmod(path, mode)
        report.restored.append(rel)

    def _write_original(self, path: Path, original: str) -> str:
        if original.startswith(BIG):
            return "its original was too large to record (over 4 MB); not restored"
        data = self.store.get(original)
        if data is None:
            return f"its recorded original ({original[:12]}) is missing from plt-agent's store; not restored"
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)
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


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _atomic_write(target: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, keep the old mode bits (or the umask default), replace."""
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".plt-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
