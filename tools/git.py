"""The few git facts the pre-commit hook needs, read with the `git` command line.

Read-only by construction: every call runs with GIT_OPTIONAL_LOCKS=0 (so git never refreshes
the index opportunistically), and nothing here writes to the work tree, the index or refs.
The environment git exports to a hook (GIT_DIR, GIT_INDEX_FILE for partial commits) is
inherited as-is, so "staged" means what the commit being made will contain.

This module knows nothing about models, findings or how they are shown.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.errors import ToolError


class GitError(ToolError):
    """A git command failed; the message names the command, the folder and what git said."""

    exit_code = 1


class NotARepository(GitError):
    """The path is not inside a git work tree (bad usage: exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class StagedFile:
    """One path in the staged diff: its status letter (A, M, R, C, T, D) and index blob."""

    path: str
    status: str
    blob: str  # object id in the index; "" for deletions
    size: int  # bytes of the staged blob; 0 for deletions


def git(args: list[str], cwd: Path, *, input: bytes | None = None, check: bool = True) -> bytes:
    """Run `git ARGS` in `cwd` without optional locks and return stdout bytes."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=env)
    if check and proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {msg}")
    return proc.stdout


def repo_root(path: Path) -> Path:
    """The top of the work tree containing `path`; NotARepository when it is not in one."""
    probe = path if path.is_dir() else path.parent
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=probe, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise NotARepository(f"{path} is not inside a git work tree (run `git init` first)")
    return Path(proc.stdout.strip())


def git_dir(root: Path) -> Path:
    """The repository's git directory (per-worktree: where MERGE_HEAD and friends live)."""
    return (root / git(["rev-parse", "--git-dir"], root).decode().strip()).resolve()


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks, honouring core.hooksPath."""
    return (root / git(["rev-parse", "--git-path", "hooks"], root).decode().strip()).resolve()


def staged_diff(root: Path) -> str:
    """`git diff --cached` as text: exactly what the commit would add."""
    out = git(["diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "-M"], root)
    return out.decode("utf-8", errors="replace")


def staged_files(root: Path) -> list[StagedFile]:
    """The staged paths with their status, index blob id and blob size."""
    raw = git(["diff", "--cached", "--name-status", "--no-renames", "-z"], root).split(b"\0")
    pairs = [
        (raw[i].decode(), raw[i + 1].decode("utf-8", "surrogateescape")) for i in range(0, len(raw) - 1, 2)
    ]
    blobs = _index_blobs(root, [p for s, p in pairs if s != "D"])
    sizes = _blob_sizes(root, list(blobs.values()))
    return [StagedFile(p, s[:1], blobs.get(p, ""), sizes.get(blobs.get(p, ""), 0)) for s, p in pairs]


def read_blob(root: Path, blob: str) -> bytes:
    """The bytes of one object from the object database."""
    return git(["cat-file", "blob", blob], root)


def _index_blobs(root: Path, paths: list[str]) -> dict[str, str]:
    if not paths:
        return {}
    out = git(["ls-files", "--stage", "-z", "--", *[f":(literal){p}" for p in paths]], root)
    blobs = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, path = entry.split(b"\t", 1)
            blobs[path.decode("utf-8", "surrogateescape")] = meta.split()[1].decode()
    return blobs


def _blob_sizes(root: Path, blobs: list[str]) -> dict[str, int]:
    if not blobs:
        return {}
    out = git(
        ["cat-file", "--batch-check=%(objectname) %(objectsize)"],
        root,
        input="\n".join(blobs).encode() + b"\n",
    )
    sizes = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def operation_in_progress(gdir: Path) -> str | None:
    """The name of a merge, rebase, cherry-pick or revert underway in this git dir, else None."""
    markers = {
        "MERGE_HEAD": "merge",
        "rebase-merge": "rebase",
        "rebase-apply": "rebase",
        "CHERRY_PICK_HEAD": "cherry-pick",
        "REVERT_HEAD": "revert",
    }
    for name, what in markers.items():
        if (gdir / name).exists():
            return what
    return None
