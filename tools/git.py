"""Every git command plt-agent runs: how git is started, where the repository is, and the few
questions the rest of the project asks it.

Running git: `run(cwd, *args)` starts `git --no-pager ARGS` in `cwd` with the caller's
environment plus GIT_OPTIONAL_LOCKS=0 (a read never refreshes, that is rewrites, the user's
index) and GIT_TERMINAL_PROMPT=0 (git never waits for a password), and with the few settings
that would change the shape of what is parsed pinned (`PINNED`: paths unquoted, diffs with
a/ and b/ prefixes, whatever the user's config says); `config` adds `-c KEY=VALUE` (the
identity of plt-agent's own scratch repositories, `identity`). What git exports to a hook
(GIT_DIR, GIT_INDEX_FILE of a partial commit) is kept, so inside the pre-commit hook "staged"
means what the commit being made will contain; the user's own configuration applies
otherwise (excludes for listings). `as_user=True` runs git exactly as the user would (their
environment and config only): the commit `fix --commit` makes, whose hooks must see what they
see under the user's own `git commit`. `output` returns stdout or raises GitError
(`git ARGS failed in DIR: what git said`); `query` returns stdout as text, or None when git
fails, is missing or runs past its timeout.

Where: `find_root(path)` is the top of the work tree holding `path` (a file: its folder), or
None outside one (a plain folder, a bare repository, inside a .git folder, a missing path);
`repo_root(path)` is the same or the one error, NotARepository. `git_dir(root)` is the
(per-work-tree) git directory, `hooks_dir(root)` where git looks for hooks.

Questions: what is staged (`staged_diff`, `staged_files`, `read_blob`), which files hold
uncommitted changes (`dirty_files`), whether a merge or rebase is underway
(`operation_in_progress`). The one write to a user's repository is `commit_files`, the commit
`fix --commit` makes; callers run other writes through `output` only in repositories they made.

This module knows nothing about the agent's tools, journals, reviews, models or how results
are shown.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.errors import ToolError

ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
PINNED = {"core.quotePath": "off", "diff.noprefix": "false", "diff.mnemonicPrefix": "false"}


class GitError(ToolError):
    """A git command failed; the message names the command, the folder and what git said."""

    exit_code = 1


class NotARepository(GitError):
    """The path is not inside a git work tree (bad usage: exit code 2)."""

    exit_code = 2


# ---- running git -------------------------------------------------------------------------


def run(
    cwd: Path,
    *args: str,
    input: bytes | None = None,
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    as_user: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """`git ARGS` in `cwd`, output captured as bytes, whatever its exit status.

    GitError when git cannot start (missing, `cwd` gone) or runs past `timeout` seconds.
    """
    settings = {**({} if as_user else PINNED), **(config or {})}
    options = [word for key, value in settings.items() for word in ("-c", f"{key}={value}")]
    try:
        return subprocess.run(
            ["git", "--no-pager", *options, *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **({} if as_user else ENV), **(env or {})},
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {_shown(args)} ran for more than {timeout:g} s in {cwd}") from None
    except OSError as exc:
        raise GitError(f"cannot run git {_shown(args)} in {cwd}: {exc.strerror or exc}") from None


def output(
    cwd: Path,
    *args: str,
    input: bytes | None = None,
    config: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> bytes:
    """Stdout of `git ARGS` (options as for `run`); GitError when it fails."""
    proc = run(cwd, *args, input=input, config=config, timeout=timeout)
    if proc.returncode != 0:
        said = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
        raise GitError(f"git {_shown(args)} failed in {cwd}: {said}")
    return proc.stdout


def query(
    cwd: Path,
    *args: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> str | None:
    """Stdout of `git ARGS` as text (undecodable bytes kept as surrogates), or None when it fails."""
    try:
        proc = run(cwd, *args, input=input, env=env, timeout=timeout)
    except GitError:
        return None
    return proc.stdout.decode("utf-8", "surrogateescape") if proc.returncode == 0 else None


def identity(name: str, email: str) -> dict[str, str]:
    """`config` for commits in plt-agent's own repositories: this author, never signed."""
    return {"user.name": name, "user.email": email, "commit.gpgsign": "false"}


def _shown(args: tuple[str, ...]) -> str:
    return " ".join(args[:3])


# ---- where -------------------------------------------------------------------------------


def find_root(path: Path) -> Path | None:
    """The top of the git work tree holding `path` (a file: its folder), or None outside one."""
    probe = path if path.is_dir() else path.parent
    out = query(probe, "rev-parse", "--show-toplevel")
    top = out.rstrip("\n") if out else ""
    return Path(top) if top else None


def repo_root(path: Path) -> Path:
    """`find_root(path)`, or NotARepository when `path` is not inside a git work tree."""
    root = find_root(path)
    if root is None:
        raise NotARepository(f"{path} is not inside a git work tree (run `git init` first)")
    return root


def git_dir(root: Path) -> Path | None:
    """The absolute git directory of the work tree at `root` (per work tree: where MERGE_HEAD
    and the index live), or None outside git."""
    out = query(root, "rev-parse", "--absolute-git-dir")
    return Path(out.rstrip("\n")) if out else None


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks, honouring core.hooksPath."""
    return (root / output(root, "rev-parse", "--git-path", "hooks").decode().strip()).resolve()


def operation_in_progress(root: Path) -> str | None:
    """The name of a merge, rebase, cherry-pick or revert underway in this work tree, else None."""
    gdir = git_dir(root)
    markers = {
        "MERGE_HEAD": "merge",
        "rebase-merge": "rebase",
        "rebase-apply": "rebase",
        "CHERRY_PICK_HEAD": "cherry-pick",
        "REVERT_HEAD": "revert",
    }
    for name, what in markers.items():
        if gdir is not None and (gdir / name).exists():
            return what
    return None


# ---- what is staged ----------------------------------------------------------------------


@dataclass(frozen=True)
class StagedFile:
    """One path in the staged diff: its status letter (A, M, R, C, T, D) and index blob."""

    path: str
    status: str
    blob: str  # object id in the index; "" for deletions
    size: int  # bytes of the staged blob; 0 for deletions


def staged_diff(root: Path) -> str:
    """`git diff --cached` as text: exactly what the commit would add."""
    out = output(root, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "-M")
    return out.decode("utf-8", errors="replace")


def staged_files(root: Path) -> list[StagedFile]:
    """The staged paths with their status, index blob id and blob size."""
    raw = output(root, "diff", "--cached", "--name-status", "--no-renames", "-z").split(b"\0")
    pairs = [
        (raw[i].decode(), raw[i + 1].decode("utf-8", "surrogateescape")) for i in range(0, len(raw) - 1, 2)
    ]
    blobs = _index_blobs(root, [p for s, p in pairs if s != "D"])
    sizes = _blob_sizes(root, list(blobs.values()))
    return [StagedFile(p, s[:1], blobs.get(p, ""), sizes.get(blobs.get(p, ""), 0)) for s, p in pairs]


def read_blob(root: Path, blob: str) -> bytes:
    """The bytes of one object from the object database."""
    return output(root, "cat-file", "blob", blob)


def _index_blobs(root: Path, paths: list[str]) -> dict[str, str]:
    if not paths:
        return {}
    out = output(root, "ls-files", "--stage", "-z", "--", *[f":(literal){p}" for p in paths])
    blobs = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, path = entry.split(b"\t", 1)
            blobs[path.decode("utf-8", "surrogateescape")] = meta.split()[1].decode()
    return blobs


def _blob_sizes(root: Path, blobs: list[str]) -> dict[str, int]:
    if not blobs:
        return {}
    batch = "\n".join(blobs).encode() + b"\n"
    out = output(root, "cat-file", "--batch-check=%(objectname) %(objectsize)", input=batch)
    sizes = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


# ---- the work tree and the one commit ----------------------------------------------------


def dirty_files(root: Path) -> set[str]:
    """Paths (relative to `root`) with uncommitted changes: staged, unstaged or untracked, both
    names of a rename. Read without refreshing the index; empty when git fails."""
    out = query(root, "status", "--porcelain", "-z", "--untracked-files=all") or ""
    entries = iter(out.split("\0"))
    names = set()
    for entry in entries:
        if len(entry) > 3:
            names.add(entry[3:])
            if {"R", "C"} & set(entry[:2]):
                names.add(next(entries, ""))  # the name it had before (-z: in the next field)
    return names - {""}


def commit_files(root: Path, files: list[str], message: str) -> str:
    """Commit exactly `files` (relative to `root`, deleted ones included; names taken literally,
    never as globs) as the user's own `git commit` would (identity, hooks), leaving whatever
    else is staged as it is; returns the new short HEAD.

    GitError carries git's reason (its first `fatal:`/`error:` line).
    """
    existing = [f":(literal){f}" for f in files if (root / f).exists()]
    steps = [["add", "--", *existing]] if existing else []
    steps.append(["commit", "-q", "-m", message, "--only", "--", *[f":(literal){f}" for f in files]])
    for args in steps:
        proc = run(root, *args, as_user=True)
        if proc.returncode != 0:
            said = (proc.stderr.strip() or proc.stdout.strip()).decode(errors="replace")
            lines = said.splitlines() or ["(no message)"]
            raise GitError(next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1]))
    return (query(root, "rev-parse", "--short", "HEAD") or "").strip()
