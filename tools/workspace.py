"""The repository the tools act on: safe paths, atomic writes, and a snapshot for diff and undo.

`Workspace(root)` resolves every path inside `root` (`..`, absolute paths and symlinks that
lead outside are refused with a message for the model), reads and writes files atomically
(temp file + os.replace, mode bits kept), and keeps a copy-on-first-write journal of the
files the agent changes: `changed_files()`, `diff()` and `restore_all()` answer "what did the
agent change since the snapshot" and "put it back". Commands that may change files run
inside `track_changes()`, which compares the work tree before and after.

The journal and caches live in `<git dir>/plt-agent/` (or the user's cache dir outside git),
so separate `plt-agent tool run` calls share one snapshot until `snapshot()` starts a new
one. Nothing here touches the user's index, stash, branches or history: undo returns each
file to the bytes it had at the snapshot, the user's own uncommitted edits included.
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

from tools.errors import ToolError
from tools.journal import BIG, Journal, ObjectStore, TreeScanner, content_key
from tools.repofiles import MAX_TEXT_BYTES, is_binary, list_files, state_dir
from tools.text import printable


@dataclass
class RestoreReport:
    """What `restore_all` did: files written back, files removed, files left alone (with why)."""

    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


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
        folder = self.state_dir if persist and self._state_writable() else None
        self.store = ObjectStore(folder / "objects" if folder else None)
        self.journal = Journal(self.store, folder / "journal.json" if folder else None)
        self.scanner = TreeScanner(
            self.root, self.files, self.store, folder / "stat-cache.json" if folder else None
        )

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
        """Atomically replace (or create) a file, journaling its original content first."""
        target = self.resolve(path, for_write=True)
        if target.is_dir():
            raise ToolError(f"{path} is a directory; give a file path")
        rel = self.relpath(target)
        self._journal_original(rel, target)
        self._make_parents(target.parent)
        _atomic_write(target, data)
        self.journal.note_written(rel, self.store.put(data))
        return target

    def delete(self, path: str | Path) -> None:
        target = self.resolve(path, for_write=True)
        if not target.is_file():
            raise ToolError(f"{path} is not a file")
        rel = self.relpath(target)
        self._journal_original(rel, target)
        target.unlink()
        self.journal.note_written(rel, None)

    def _journal_original(self, rel: str, target: Path) -> None:
        if rel in self.journal.entries:
            return
        original = self.store.put(target.read_bytes()) if target.is_file() else None
        self.journal.note_original(rel, original)

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for made in reversed(missing):
            made.mkdir()
            self.journal.note_created_dir(self.relpath(made))

    # ---- snapshot, diff, undo ----------------------------------------------------------

    def snapshot(self) -> None:
        """Start a new run: forget earlier journal entries; the tree as it is now is the baseline."""
        self.journal.clear()
        self.store.prune(self.scanner.live_keys())

    @contextmanager
    def track_changes(self) -> Iterator[None]:
        """Journal every file a command run inside this block creates, changes or deletes."""
        before = self.scanner.capture()
        try:
            yield
        finally:
            after = self.scanner.capture()
            for rel in sorted(set(before) | set(after)):
                if before.get(rel) != after.get(rel):
                    self.journal.note_original(rel, before.get(rel))
                    self.journal.note_written(rel, after.get(rel))

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
        old = self.store.get(original) if original else b""
        new = path.read_bytes() if path.is_file() else b""
        if original and original.startswith(BIG) or old is None:
            return f"--- a/{rel}\n+++ b/{rel}\n(large file changed; its original was not recorded)\n"
        if is_binary(old) or is_binary(new):
            return f"Binary file {rel} changed ({len(old):,} -> {len(new):,} bytes)\n"
        a = f"a/{rel}" if original else "/dev/null"
        b = f"b/{rel}" if path.is_file() else "/dev/null"
        old_lines = old.decode("utf-8", "replace").splitlines(keepends=True)
        new_lines = new.decode("utf-8", "replace").splitlines(keepends=True)
        lines = difflib.unified_diff(old_lines, new_lines, a, b)
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
        )

    def restore_all(self, *, force: bool = False) -> RestoreReport:
        """Put back every file the agent changed; files changed by someone else since are skipped.

        `force` restores those too. The journal is cleared for the files handled.
        """
        report = RestoreReport()
        for rel, entry in sorted(self.journal.entries.items()):
            current = self._current_key(rel)
            if current == entry.original:
                continue
            if current != entry.last and not force:
                report.skipped[rel] = "changed by someone else after the agent's last change"
                continue
            self._restore_one(rel, entry.original, report)
        for rel in sorted(self.journal.created_dirs, key=len, reverse=True):
            folder = self.root / rel
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        self.journal.entries = {rel: self.journal.entries[rel] for rel in report.skipped}
        self.journal.created_dirs = []
        self.journal.save()
        return report

    def _restore_one(self, rel: str, original: str | None, report: RestoreReport) -> None:
        path = self.root / rel
        if original is None:
            path.unlink(missing_ok=True)
            report.removed.append(rel)
            return
        data = None if original.startswith(BIG) else self.store.get(original)
        if data is None:
            report.skipped[rel] = "its original content was not recorded (file too large)"
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)
        report.restored.append(rel)


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
