"""tools.git, the one way plt-agent runs git: where a repository is, how git is started, and
the queries (staged diff, dirty files, the one commit). Expected values come from the git
command line run by the test itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from repo_helpers import git, write_tree

from tools import git as g
from tools.base import ToolError


@pytest.fixture
def repo(tmp_path: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one commit (a.py, pkg/b.py), its author configured in the repository."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never find a repository above
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Repo User")
    git(root, "config", "user.email", "user@example.invalid")
    write_tree(root, {"a.py": "a = 1\n", "pkg/b.py": "b = 2\n"})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


# ---- where -------------------------------------------------------------------------------


def test_the_root_is_found_from_a_subfolder_and_from_a_file(repo):
    top = Path(git(repo, "rev-parse", "--show-toplevel").strip())

    assert g.find_root(repo / "pkg") == top
    assert g.find_root(repo / "pkg" / "b.py") == top
    assert g.repo_root(repo / "pkg") == top


def test_a_linked_worktree_is_its_own_root_with_its_own_git_dir(repo, tmp_path):
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "topic", str(linked))
    (linked / "pkg" / "deep").mkdir()

    assert g.find_root(linked / "pkg" / "deep") == linked.resolve()
    assert g.git_dir(linked) == Path(git(linked, "rev-parse", "--absolute-git-dir").strip())
    assert g.git_dir(linked) != g.git_dir(repo)


@pytest.mark.parametrize("where", ["plain", "bare", "inside .git", "missing"])
def test_outside_a_work_tree_there_is_no_root_and_one_error(repo, tmp_path, where):
    if where == "plain":
        path = tmp_path / "plain"
        path.mkdir()
    elif where == "bare":
        path = tmp_path / "bare.git"
        git(tmp_path, "init", "-q", "--bare", str(path))
    elif where == "inside .git":
        path = repo / ".git" / "refs"
    else:
        path = tmp_path / "no" / "such" / "folder"

    assert g.find_root(path) is None
    with pytest.raises(g.NotARepository) as info:
        g.repo_root(path)
    assert str(info.value) == f"{path} is not inside a git work tree (run `git init` first)"
    assert isinstance(info.value, ToolError)
    assert info.value.exit_code == 2


def test_an_operation_underway_is_named(repo):
    assert g.operation_in_progress(repo) is None
    (Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "MERGE_HEAD").write_text("0" * 40 + "\n")

    assert g.operation_in_progress(repo) == "merge"


# ---- how git runs ------------------------------------------------------------------------


def _env_seen_by_git(repo: Path, as_user: bool = False) -> dict[str, str]:
    out = g.run(repo, "showenv", config={"alias.showenv": "!env -0"}, as_user=as_user).stdout
    return dict(line.split("=", 1) for line in out.decode().split("\0") if "=" in line)


PINNED = {"core.quotePath": "off", "diff.noprefix": "false", "diff.mnemonicPrefix": "false"}


def test_git_runs_without_optional_locks_or_prompts_and_with_its_output_shape_pinned(repo, monkeypatch):
    for name in ("GIT_OPTIONAL_LOCKS", "GIT_TERMINAL_PROMPT"):
        monkeypatch.delenv(name, raising=False)
    for key in PINNED:
        git(repo, "config", key, "true")  # the user's settings, overridden

    env = _env_seen_by_git(repo)

    assert env["GIT_OPTIONAL_LOCKS"] == "0"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert {key: g.output(repo, "config", key).decode().strip() for key in PINNED} == PINNED


def test_as_the_user_git_sees_only_the_users_environment_and_config(repo, monkeypatch):
    for name in ("GIT_OPTIONAL_LOCKS", "GIT_TERMINAL_PROMPT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLT_TEST_MARK", "kept")
    git(repo, "config", "core.quotePath", "true")

    env = _env_seen_by_git(repo, as_user=True)

    assert "GIT_OPTIONAL_LOCKS" not in env
    assert "GIT_TERMINAL_PROMPT" not in env
    assert env["PLT_TEST_MARK"] == "kept"
    assert g.run(repo, "config", "core.quotePath", as_user=True).stdout == b"true\n"


def test_reads_leave_the_index_file_byte_for_byte(repo, monkeypatch):
    monkeypatch.delenv("GIT_OPTIONAL_LOCKS", raising=False)
    index = Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "index"
    os.utime(repo / "a.py", (1_000_000_000, 1_000_000_000))  # stale stat data: git would refresh it
    before = index.read_bytes()

    g.dirty_files(repo)
    g.staged_diff(repo)
    g.staged_files(repo)

    assert index.read_bytes() == before
    git(repo, "status", "--porcelain")  # the plain command line does rewrite it: the check can fail
    assert index.read_bytes() != before


def test_the_users_diff_settings_do_not_change_what_is_parsed(repo):
    git(repo, "config", "diff.noprefix", "true")
    git(repo, "config", "diff.mnemonicPrefix", "true")
    git(repo, "config", "core.quotePath", "true")
    (repo / "café.py").write_text("x = 1\n")
    git(repo, "add", "café.py")

    diff = g.staged_diff(repo)

    assert "diff --git a/café.py b/café.py\n" in diff
    assert "+++ b/café.py\n" in diff
    assert [(f.path, f.status) for f in g.staged_files(repo)] == [("café.py", "A")]


def test_a_failed_command_is_one_error_naming_command_folder_and_reason(repo, tmp_path, monkeypatch):
    with pytest.raises(g.GitError) as info:
        g.output(repo, "cat-file", "blob", "0" * 40)
    assert str(info.value).startswith(f"git cat-file blob {'0' * 40} failed in {repo}: fatal:")
    assert g.query(repo, "cat-file", "blob", "0" * 40) is None

    with pytest.raises(g.GitError, match="cannot run git status"):
        g.run(tmp_path / "gone", "status")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no git at all
    assert g.query(repo, "status") is None
    assert g.find_root(repo) is None


def test_identity_is_a_fixed_unsigned_author(repo):
    (repo / "a.py").write_text("a = 2\n")
    git(repo, "config", "commit.gpgsign", "true")  # would fail here: no key
    git(repo, "add", "a.py")

    g.output(repo, "commit", "-q", "-m", "ours", config=g.identity("plt-test", "plt@test.invalid"))

    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "plt-test <plt@test.invalid>"


# ---- the work tree and the one commit ----------------------------------------------------


def test_dirty_files_are_staged_unstaged_untracked_and_both_names_of_a_rename(repo):
    (repo / "a.py").write_text("a = 3\n")
    write_tree(repo, {"new/untracked.py": "", "pkg/staged.py": "s = 1\n"})
    git(repo, "add", "pkg/staged.py")
    git(repo, "mv", "pkg/b.py", "pkg/renamed.py")

    assert g.dirty_files(repo) == {"a.py", "new/untracked.py", "pkg/staged.py", "pkg/b.py", "pkg/renamed.py"}


def test_commit_files_commits_exactly_the_named_files(repo):
    write_tree(repo, {"t1.py": "t = 1\n", "other.py": "o = 1\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    (repo / "t1.py").write_text("t = 2\n")  # the user's own edit, in a name the glob t?.py matches
    (repo / "other.py").write_text("o = 2\n")
    git(repo, "add", "other.py")  # the user's staged change stays staged
    (repo / "t?.py").write_text("q = 1\n")  # the agent's new file
    (repo / "a.py").unlink()  # and a deletion

    head = g.commit_files(repo, ["t?.py", "a.py"], "plt-agent fix: t?.py, a.py")

    assert head == git(repo, "rev-parse", "--short", "HEAD").strip()
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == ["a.py", "t?.py"]
    assert git(repo, "log", "-1", "--format=%an").strip() == "Repo User"
    assert git(repo, "diff", "--cached", "--name-only").split() == ["other.py"]
    assert git(repo, "diff", "--name-only").split() == ["t1.py"]


def test_commit_files_runs_the_users_hooks_as_git_commit_would_and_reports_their_refusal(repo, tmp_path):
    seen = tmp_path / "hook-env"
    hook = Path(git(repo, "rev-parse", "--git-path", "hooks").strip())
    hook = (repo / hook if not hook.is_absolute() else hook) / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        f"#!/bin/sh\nenv > '{seen}'\necho 'warming up'\necho 'no commits on Fridays' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    (repo / "a.py").write_text("a = 4\n")

    with pytest.raises(g.GitError) as info:
        g.commit_files(repo, ["a.py"], "fix")

    assert str(info.value) == "no commits on Fridays"
    assert "GIT_OPTIONAL_LOCKS" not in seen.read_text()
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"
