"""Writing files so a crash leaves either the old or the new content, durably.

- `replace_file(target, data)`: a temp file in the same folder, fsynced, given the target's
  mode bits (or the umask default), renamed over the target, the folder fsynced: how the
  tools write the user's files and how undo puts them back.
- `durable_write(path, data)`: the same for plt-agent's own state (journal, lock, blobs).
- `atomic_write_bytes(path, data)`: rename without fsync, for caches that may be lost.
- `fsync_dir(folder)`: make a rename or a new entry in `folder` durable.

This module knows nothing about tools, journals or git.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def durable_write(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename over `path` (mode 0644), fsync the folder."""
    _synced_replace(path, data, 0o644)


def replace_file(target: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, keep the old mode bits (or the umask default), replace."""
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    _synced_replace(target, data, mode)


def _synced_replace(target: Path, data: bytes, mode: int) -> None:
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and os.replace (caches: not fsynced)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
