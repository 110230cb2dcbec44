"""Which files a repository has, where plt-agent may keep its own state, and what is text.

`list_files` honours .gitignore through `git ls-files` inside a git work tree and falls back
to a directory walk that skips hidden directories, virtualenvs, node_modules and caches.
`state_dir` names a private folder for caches and undo data, `run_dir` the one holding the
repository's run lock: under the repository's git directory when there is one (never in
the work tree), else under the user's cache dir.

This module knows nothing about tools, models or edits.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from tools.git import git_dir, query

# Files larger than this are not read as text by the tools (view pages them, search skips them).
MAX_TEXT_BYTES = 4 * 1024 * 1024
_SNIFF_BYTES = 8192
_SKIP_DIRS = {"node_modules", "__pycache__", "venv", "site-packages", "target", "build", "dist"}


def list_files(root: Path, *, use_git: bool = True, check: bool = True) -> list[str]:
    """Relative POSIX paths of the repository's files (tracked + untracked, not ignored), sorted.

    `check=False` skips the per-file check that each is a regular file (callers that lstat
    every name anyway): names git lists may then be missing or be symlinks.
    """
    if use_git:
        out = query(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", timeout=30)
        if out is not None:
            names = {n for n in out.split("\0") if n}
            if not check:
                return sorted(names)
            base = str(root)
            return sorted(n for n in names if _regular(os.path.join(base, n)))
    return sorted(_walk(root))


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(Path(dirpath) / d))
        rel = Path(dirpath).relative_to(root)
        for name in filenames:
            path = Path(dirpath) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append((rel / name).as_posix())
    return found


def _skip_dir(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name in _SKIP_DIRS or name.endswith(".egg-info"):
        return True
    return (path / "pyvenv.cfg").exists()


def is_binary(data: bytes) -> bool:
    """True when the first bytes hold a NUL or do not decode as UTF-8 (allowing a cut char)."""
    head = data[:_SNIFF_BYTES]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # a multi-byte character cut at the sniff boundary is fine
    return False


def run_dir(root: Path, *, use_git: bool = True) -> Path:
    """The repository-wide folder of plt-agent's run lock: `<git dir>/plt-agent` in git (every
    workspace's journal lives at or under it), else the directory's own state folder."""
    gd = git_dir(root) if use_git else None
    return gd / "plt-agent" if gd is not None else state_dir(root, use_git=False)


def state_dir(root: Path, *, use_git: bool = True) -> Path:
    """A private folder for plt-agent's caches and undo journal for this repository.

    Not created here: callers create it when they first write.
    """
    if use_git:
        gd = git_dir(root)
        if gd is not None:
            prefix = (query(root, "rev-parse", "--show-prefix") or "").strip()
            if not prefix:
                return gd / "plt-agent"
            # a workspace rooted in a subfolder keeps its own journal (its paths are relative to it)
            return gd / "plt-agent" / ("sub-" + hashlib.sha256(prefix.encode()).hexdigest()[:12])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return base / "plt-agent" / "workspaces" / key
