"""Fresh copies of a task's repository: the base state as a one-commit git repo.

`materialize(task, dest)` writes the base tree (a bench task's `repo/`, or `base_commit` of
a swebench instance exported with `git archive`, which leaves the user's clone untouched and
carries no history that could leak the fix), then `git init` + one commit. `diff_since_base`
is the model patch: every change, new files included, relative to that commit.
`evaluation_copy` builds the tree that is graded: base + model patch, test files the test
patch touches reset to base, + test patch.

This module knows nothing about solvers, tests or grading.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

from plt_agent.eval.errors import EvalError
from plt_agent.eval.patches import git_apply, parse_patch
from plt_agent.eval.tasks import Task
from tools.git import GitError, identity, output

IGNORED = ("__pycache__/", "*.pyc", ".pytest_cache/", ".plt-agent/")
_IDENTITY = identity("plt-eval", "plt-eval@localhost")


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    """`git ARGS` in a repository the harness made; EvalError (the task's failure) when it fails."""
    try:
        return output(repo, *args, input=input, config=_IDENTITY)
    except GitError as exc:
        raise EvalError(str(exc)) from None


def materialize(task: Task, dest: Path) -> Path:
    """Write the task's base state to `dest` (created) and commit it; returns `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    if task.repo_dir is not None:
        shutil.copytree(
            task.repo_dir, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    elif task.checkout is not None and task.base_commit:
        _export_commit(task.checkout, task.base_commit, dest)
    else:
        raise EvalError(f"{task.instance_id}: no repository to check out")
    git(dest, "init", "-q")
    (dest / ".git" / "info").mkdir(exist_ok=True)
    (dest / ".git" / "info" / "exclude").write_text("\n".join(IGNORED) + "\n")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--allow-empty", "--no-verify", "-m", f"base of {task.instance_id}")
    return dest


def _export_commit(clone: Path, commit: str, dest: Path) -> None:
    archive = git(clone, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python without extraction filters: refuse anything that could escape
            for member in tar.getmembers():
                if member.name.startswith("/") or ".." in Path(member.name).parts or member.islnk():
                    raise EvalError(f"{clone}@{commit}: unsafe path {member.name} in the archive")
            tar.extractall(dest)


def diff_since_base(repo: Path) -> str:
    """The working tree's changes against the base commit, new and deleted files included."""
    git(repo, "add", "-A")
    out = git(repo, "diff", "--cached", "--no-color", "--no-ext-diff", "--binary", "HEAD")
    git(repo, "reset", "-q")
    return out.decode("utf-8", errors="replace")


def evaluation_copy(task: Task, model_patch: str, dest: Path) -> tuple[Path, str | None]:
    """Base + model patch + test patch in `dest`. Returns (dest, why the model patch failed or None)."""
    materialize(task, dest)
    ok, message = git_apply(dest, model_patch)
    if not ok:
        return dest, f"the model patch does not apply: {message}"
    _reset_test_files(task, dest)
    ok, message = git_apply(dest, task.test_patch)
    if not ok:
        raise EvalError(f"{task.instance_id}: the test patch does not apply: {message}")
    return dest, None


def _reset_test_files(task: Task, repo: Path) -> None:
    """Files the test patch touches go back to base, so a model's edits to them cannot interfere."""
    for fp in parse_patch(task.test_patch):
        target = repo / fp.path
        if fp.new_file:
            target.unlink(missing_ok=True)
        else:
            data = git(repo, "show", f"HEAD:{fp.old_path or fp.path}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
