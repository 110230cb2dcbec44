"""The repository the tools act on: safe paths, atomic writes, and a journal for diff and undo.

`Workspace(root)` resolves every path inside `root` (`..`, absolute paths and symlinks that
lead outside are refused with a message for the model), reads and writes files atomically
(temp file + fsync + rename, mode bits kept: tools.fsutil), and keeps a write-ahead journal
of the files the agent changes (tools.journal): the original and the change about to be
made are on disk, fsynced, before the file is touched. `changed_files()`, `diff()` and
`restore_all()` answer "what did the agent change since the snapshot" and "put it back".

Commands that may change files run inside `track_changes()`: the whole work tree is
captured (tools.treescan) and recorded in the journal, with HEAD, refs, stash and index
(tools.gitstate), before the command starts; after it, the differences are journaled. A run
killed in the middle of a command can therefore still be undone (tools.restore puts things
back, tools.runs recovers dead runs). `restore_all` also puts back the git state the
agent's commands changed, where nobody changed it since.

The journal and caches live in `<git dir>/plt-agent/` (or the user's cache dir outside git),
so separate `plt-agent tool run` calls share one journal until `snapshot()` starts a new
one; `snapshot()` never drops the journal of a run that did not finish. Apart from putting
back what the agent's own commands changed, nothing here touches the user's index, stash,
branches or history.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools import fsutil, restore
from tools.errors import ToolError
from tools.fsutil import fsync_dir
from tools.gitstate import GitRepo
from tools.journal import Journal, ObjectStore, content_key
from tools.repofiles import MAX_TEXT_BYTES, is_binary, list_files, run_dir, state_dir
from tools.restore import RestoreReport, file_diff
from tools.runlock import RepositoryBusy
from tools.text import printable
from tools.treescan import TreeScanner

__all__ = ["RestoreReport", "UnfinishedRun", "Workspace", "file_diff"]


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
        test_command_source: str = "",
    ):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise ToolError(f"the repository root {root} is not a directory")
        self.use_git = use_git
        self.test_command = test_command
        self.test_command_source = test_command_source  # where the configured command came from
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
        """The absolute path of `path` (relative to the root, or absolute inside it).

        Refused with a ToolError for the model: paths outside the root (lexically or through
        symlinks), NUL bytes, symlink loops and unresolvable names, existing files that are not
        regular files or folders (FIFOs, sockets, devices: never opened, so they cannot hang
        a read), and for writing, anything inside a `.git` directory at any depth.
        """
        text = str(path).strip()
        if not text:
            raise ToolError("empty path: give a path relative to the repository root, e.g. src/app.py")
        shown = printable(text, 200)
        if "\0" in text:
            raise ToolError(f"the path {shown} contains a NUL byte; give a plain relative path")
        raw = Path(text)
        lexical = Path(os.path.normpath(raw if raw.is_absolute() else self.root / raw))
        if not _inside(lexical, self.root):
            kind = "absolute path" if raw.is_absolute() else "path"
            raise ToolError(
                f"{kind} {shown} is outside the repository ({self.root}); "
                "use a path relative to the repository root"
            )
        try:
            real = lexical.resolve()
            mode = _mode(real)
        except RuntimeError:  # Python < 3.13 reports a symlink loop so
            raise ToolError(f"{shown} is a symlink loop; it leads nowhere") from None
        except OSError as exc:  # a loop (3.13+), a name too long, no permission
            raise ToolError(f"{shown} cannot be used: {exc.strerror or exc}") from None
        if not _inside(real, self.root):
            raise ToolError(
                f"{shown} is a symlink (or under one) that leads outside the repository, to "
                f"{printable(real, 200)}; only files inside the repository can be used"
            )
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ToolError(
                f"{shown} is a {_special_kind(mode)}, not a regular file; the tools only read and write "
                "regular files"
            )
        if for_write and (_in_git_dir(self.relpath(real)) or _in_git_dir(self.relpath(lexical))):
            raise ToolError(f"{shown} is inside a .git directory; the tools do not change git's own files")
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
            raise ToolError(f"{printable(path)} is a directory, not a file")
        if not target.exists():
            raise ToolError(
                f"{printable(path)} does not exist; use find or view on a folder to see what is there"
            )
        return target.read_bytes()

    def read_text(self, path: str | Path, *, limit: int = MAX_TEXT_BYTES) -> str:
        """The file's text (UTF-8, undecodable bytes kept as surrogates so writes round-trip)."""
        target = self.resolve(path)
        if target.is_file() and target.stat().st_size > limit:
            size = target.stat().st_size
            raise ToolError(
                f"{printable(path)} is {size:,} bytes, too large to read whole; use view with start/end"
            )
        data = self.read_bytes(path)
        if is_binary(data):
            raise ToolError(
                f"{printable(path)} is a binary file ({len(data):,} bytes); it cannot be shown or edited"
            )
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
        fsutil.replace_file(target, data)
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
        """Journal what the command in flight changed and close it (see tools.restore)."""
        restore.settle_command(self, died=died)

    # ---- diff and undo -----------------------------------------------------------------

    def current_key(self, rel: str) -> str | None:
        path = self.root / rel
        return content_key(path.read_bytes()) if path.is_file() else None

    def changed_files(self) -> list[str]:
        """Files whose content or existence differs from the snapshot, because of the agent."""
        return [rel for rel, e in sorted(self.journal.entries.items()) if self.current_key(rel) != e.original]

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
        return restore.restore_all(self, force=force)

    def restore_git(self) -> RestoreReport:
        """Put back the HEAD, refs, stash and index the agent's commands changed (where unchanged since)."""
        return restore.restore_git(self)

    def revert_in_flight(self, *, force: bool = False) -> RestoreReport:
        """Undo only the command or write in flight when a chat or `tool run` died."""
        return restore.revert_in_flight(self, force=force)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _mode(path: Path) -> int | None:
    """The file type bits of `path` (links followed), None when it does not exist (yet)."""
    try:
        return path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def _in_git_dir(rel: str) -> bool:
    """True when a path (relative, POSIX) names or lies under a `.git` entry at any depth.

    Case-folded: on a case-insensitive file system `.GIT/hooks` is git's hooks folder too.
    """
    return any(part.casefold() == ".git" for part in rel.split("/"))


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"
