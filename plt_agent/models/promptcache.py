"""A prompt cache on disk: the model state after a prompt's fixed prefix, kept between runs.

Every run of plt-agent starts a fresh process, so without this each `fix`, `chat` and each
commit's hook would prefill the same system prompt and tool descriptions again (on a CPU,
a 1,300-token prefix is seconds for a small model and minutes for LoopCoder-V2). A local
backend (`models.local`) asks the cache, on its first call, for the longest saved state
that its prompt starts with, loads it, and prefills only the rest; where nothing was saved,
it saves the state at the prompt's boundaries (the end of the system message, the fixed
prefix; and the end of the last message) as it prefills them.

Layout: `ROOT/<model key>/<token digest>.state` (the backend's own format: an engine session
or a llama.cpp sequence state file), plus `model.txt` naming the model. The model key is a
digest of the backend, the file's resolved path, size and modification time, and the
settings the state depends on; so a changed model file or prefix never matches an old
entry. Writes are atomic (a unique temporary name, then a rename): concurrent runs never
see half a file, and the last writer wins. Disk use is bounded: after each write the least
recently used entries (by modification time; a hit touches its file) are removed until the
cache holds at most `max_bytes`. A file that fails to load is removed and counts as a miss.

This module knows files and digests; the backend writes and reads the states.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SUFFIX = ".state"
STALE_TMP_S = 3600.0  # temporary files older than this are leftovers of a killed run
DEFAULT_MAX_MB = 1024


def model_key(kind: str, path: Path, settings: str) -> str:
    """A digest naming one model file as it is now, with the settings its states depend on."""
    resolved = path.resolve()
    st = resolved.stat()
    text = f"{kind}|{resolved}|{st.st_size}|{st.st_mtime_ns}|{settings}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def tokens_digest(tokens: Sequence[int]) -> str:
    data = b"".join(int(t).to_bytes(4, "little", signed=True) for t in tokens)
    return hashlib.sha256(data).hexdigest()[:32] + f"-{len(tokens)}"


class PromptCache:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_MB << 20) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def entry(self, key: str, tokens: Sequence[int]) -> Path:
        return self.root / key / (tokens_digest(tokens) + SUFFIX)

    def lookup(self, key: str, ids: Sequence[int], boundaries: Sequence[int]) -> tuple[Path, int] | None:
        """The saved state for the longest of `ids[:b]` (b in `boundaries`), touched; or None."""
        for n in sorted(set(boundaries), reverse=True):
            path = self.entry(key, ids[:n])
            try:
                os.utime(path)  # recently used: pruned last
            except OSError:
                continue
            return path, n
        return None

    def store(self, key: str, tokens: Sequence[int], write: Callable[[Path], None], about: str = "") -> Path:
        """Save a state with `write(tmp_path)`, atomically, then keep the cache within bounds."""
        final = self.entry(key, tokens)
        final.parent.mkdir(parents=True, exist_ok=True)
        label = final.parent / "model.txt"
        if about and not label.exists():
            with contextlib.suppress(OSError):
                label.write_text(about + "\n")
        tmp = final.with_name(f"{final.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            write(tmp)
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self.prune()
        return final

    def discard(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()

    def prune(self) -> None:
        """Remove least recently used entries (and stale temporary files) beyond `max_bytes`."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for path in self.root.glob("*/*"):
            try:
                st = path.stat()
            except OSError:
                continue
            if path.name.endswith(".tmp"):
                if now - st.st_mtime > STALE_TMP_S:
                    self.discard(path)
                continue
            if path.suffix == SUFFIX:
                entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            self.discard(path)
            total -= size

    def size(self) -> int:
        """Bytes the saved states take."""
        total = 0
        for path in self.root.glob(f"*/*{SUFFIX}"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total
