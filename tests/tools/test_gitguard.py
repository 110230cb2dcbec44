"""The git guard's reading of shell command lines: what it refuses and what it lets run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.gitguard import git_refusal

REFUSED = [
    "git add -A && git commit -m x",
    "git stash -u",
    "git stash",
    "echo hi\ngit reset --hard",
    "ls; git checkout main",
    "git checkout HEAD -- a.py",  # also writes the index
    "git branch new",
    "git branch -D x",
    "git tag v1",
    "cd sub && git commit -m x",
    "bash -c 'git commit -am x'",
    "x=`git stash`",
    "timeout 5 git commit",
    "xargs -0 git add",
    "sudo git commit",
    "if true; then git commit -m x; fi",
    "git restore --staged a.py",
    "git clean -fdx",
    "git config user.name x",
    "git rm --cached a.py",
    "git mv a b",
    "git update-index --assume-unchanged a",
    "git gc",
    "git rebase -i HEAD~2",
    "git merge other",
    "git cherry-pick abc",
    "git am x.patch",
    "git apply --index x.patch",
    "git fetch",
    "git pull",
    "git push",
    "git switch -c x",
    "git reflog expire --all",
    "git symbolic-ref HEAD refs/heads/x",
    "git ci -m x",  # an alias: unknown, so refused
    "git -C $(pwd) commit -m x",  # where $(...) points is unknown: this repository is assumed
    'git -C "$(pwd)" commit -m x',
    "git --git-dir=$(pwd)/.git commit -m x",
]
ALLOWED = [
    "git status",
    "git diff HEAD~1",
    "git log --oneline | head",
    "git stash list",
    "git checkout -- a.py",
    "git branch",
    "git branch -a",
    "git branch --list 'fe*'",
    "git tag",
    "git -C /tmp/elsewhere commit -m x",
    "cd /tmp/elsewhere && git commit -m x",
    "GIT_DIR=/tmp/o/.git git update-ref refs/heads/a b",
    "echo $(git rev-parse HEAD)",
    "git log $(git merge-base HEAD main)..HEAD",
    "grep -rn git src/",
    "git -c core.pager=cat status",
    "git --no-pager log",
    "git restore a.py",
    "git clean -fd",
    "git config user.name",
    "git apply x.patch",
    "git merge-base a b",
    "python -m pytest -q",
    "git --version",
    "git",
    "echo 'unbalanced",
    "git reflog",
    "git symbolic-ref HEAD",
    "echo 'git commit' is how you commit",
]


@pytest.mark.parametrize("command", REFUSED)
def test_refused(command, tmp_path: Path):
    why = git_refusal(command, tmp_path)
    assert why.startswith("refused: `git ")
    assert "change the files only" in why


@pytest.mark.parametrize("command", ALLOWED)
def test_allowed(command, tmp_path: Path):
    assert git_refusal(command, tmp_path) == ""


def test_the_reason_names_what_the_command_would_change(tmp_path: Path):
    assert "the index" in git_refusal("git add .", tmp_path)
    assert "the stash" in git_refusal("git stash pop", tmp_path)
    assert "branch" in git_refusal("git checkout -b x", tmp_path)
    assert "plain `rm FILE`" in git_refusal("git rm a.py", tmp_path)
