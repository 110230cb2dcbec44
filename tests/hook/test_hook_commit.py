"""Real `git commit`s through the installed hook, with the scripted backend as the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hook_helpers import git

pytestmark = pytest.mark.slow  # each commit starts plt-agent in a fresh process

PLT_AGENT = Path(sys.executable).with_name("plt-agent")
USER_HOOK = b'#!/bin/sh\necho "user hook ran" >&2\necho ran >> "$(git rev-parse --git-dir)/user-hook-log"\n'


def _install(repo: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PLT_AGENT), "hook", "install", *extra], cwd=repo, capture_output=True, text=True
    )


def _commit(repo: Path, env: dict[str, str], message: str = "change") -> subprocess.CompletedProcess:
    return subprocess.run(["git", "commit", "-m", message], cwd=repo, capture_output=True, text=True, env=env)


def _script(tmp_path: Path, *contents: str) -> str:
    path = tmp_path / "replies.jsonl"
    path.write_text("".join(json.dumps({"content": c}) + "\n" for c in contents))
    return f"scripted:{path}"


@pytest.fixture
def hooked(repo: Path) -> Path:
    """The repo with a pre-existing user hook, then plt-agent's hook installed over it."""
    if not PLT_AGENT.exists():
        pytest.skip(f"{PLT_AGENT} is not installed (pip install -e .)")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_bytes(USER_HOOK)
    hook.chmod(0o755)
    installed = _install(repo)
    assert installed.returncode == 0, installed.stderr
    assert str(PLT_AGENT) in hook.read_text() or str(PLT_AGENT.resolve()) in hook.read_text()
    return repo


def test_commit_runs_the_user_hook_and_prints_the_review(hooked, tmp_path, hermetic_env):
    env = {**hermetic_env, "PLT_AGENT_MODEL": _script(tmp_path, "warning app.py:2: returns a - b in add()")}
    (hooked / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(hooked, "add", "app.py")

    done = _commit(hooked, env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "user hook ran" in done.stderr
    assert "app.py:2: returns a - b in add()" in done.stdout + done.stderr
    assert (hooked / ".git" / "user-hook-log").read_text() == "ran\n"
    assert git(hooked, "log", "-1", "--format=%s").strip() == "change"


def test_a_rambling_review_prints_one_line_and_the_commit_goes_through(hooked, tmp_path, hermetic_env):
    findings = "".join(f"warning app.py:{i}: line {i} looks odd to me. It is long.\n" for i in range(1, 9))
    rambling = "Well, this change is interesting and I have many thoughts about it. " * 30
    (hooked / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(hooked, "add", "app.py")

    quiet = _commit(hooked, {**hermetic_env, "PLT_AGENT_MODEL": _script(tmp_path, rambling)}, "one")
    (hooked / "app.py").write_text("def add(a, b):\n    return a * b\n")
    git(hooked, "add", "app.py")
    listed = _commit(hooked, {**hermetic_env, "PLT_AGENT_MODEL": _script(tmp_path, findings)}, "two")

    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    review = [line for line in quiet.stderr.splitlines() if line.startswith(("plt-agent", "  "))]
    assert len(review) == 1, quiet.stderr
    assert "the commit goes through" in review[0]
    assert "interesting" not in quiet.stdout + quiet.stderr
    assert listed.returncode == 0
    shown = [line for line in listed.stderr.splitlines() if line.startswith(("plt-agent", "  "))]
    assert len(shown) == 7, listed.stderr  # the verdict, 5 findings, "... and 3 more"
    assert shown[0].startswith("plt-agent: 8 warnings in the staged diff")
    assert "It is long" not in listed.stderr
    assert git(hooked, "log", "-1", "--format=%s").strip() == "two"


def test_a_failing_user_hook_still_blocks_the_commit(hooked, tmp_path, hermetic_env):
    kept = hooked / ".git" / "hooks" / "pre-commit.plt-agent-orig"
    kept.write_bytes(b"#!/bin/sh\necho 'user hook says no' >&2\nexit 1\n")
    env = {**hermetic_env, "PLT_AGENT_MODEL": _script(tmp_path, "LGTM")}
    (hooked / "README.md").write_text("# changed\n")
    git(hooked, "add", "README.md")

    done = _commit(hooked, env)

    assert done.returncode != 0
    assert "user hook says no" in done.stderr
    assert git(hooked, "log", "-1", "--format=%s").strip() == "initial"


def test_broken_model_spec_fails_open(hooked, hermetic_env):
    env = {**hermetic_env, "PLT_AGENT_MODEL": "scripted:/no/such/replies.jsonl"}
    (hooked / "README.md").write_text("# changed\n")
    git(hooked, "add", "README.md")

    done = _commit(hooked, env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "/no/such/replies.jsonl" in done.stdout + done.stderr
    assert "not held up" in done.stdout + done.stderr


def test_strict_hook_blocks_a_syntax_error_and_leaves_the_index_alone(repo, tmp_path, hermetic_env):
    assert _install(repo, "--strict").returncode == 0
    env = {**hermetic_env, "PLT_AGENT_MODEL": _script(tmp_path, "LGTM")}
    (repo / "app.py").write_text("def add(a, b)\n    return a + b\n")
    git(repo, "add", "app.py")
    staged_before = git(repo, "ls-files", "--stage")  # (git itself refreshes the index's stat data)
    cached_before = git(repo, "diff", "--cached")

    done = _commit(repo, env)

    assert done.returncode != 0
    assert "app.py:1: Python syntax error" in done.stdout + done.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "initial"
    assert git(repo, "ls-files", "--stage") == staged_before
    assert (repo / "app.py").read_text() == "def add(a, b)\n    return a + b\n"
    assert git(repo, "diff", "--cached") == cached_before


def test_skip_variable_skips_the_review(hooked, tmp_path, hermetic_env):
    script = _script(tmp_path, "blocker app.py:1: should never be asked")
    env = {**hermetic_env, "PLT_AGENT_MODEL": script, "PLT_AGENT_SKIP": "1"}
    (hooked / "README.md").write_text("# skipped\n")
    git(hooked, "add", "README.md")

    done = _commit(hooked, env, "skipped")

    assert done.returncode == 0
    assert "review skipped (PLT_AGENT_SKIP is set)" in done.stdout + done.stderr
    assert "should never be asked" not in done.stdout + done.stderr


def test_concluding_a_merge_skips_the_review(hooked, tmp_path, hermetic_env):
    env = {**hermetic_env, "PLT_AGENT_MODEL": _script(tmp_path, "blocker x:1: should never be asked")}
    git(hooked, "checkout", "-q", "-b", "topic")
    (hooked / "README.md").write_text("# topic\n")
    git(hooked, "commit", "-q", "--no-verify", "-am", "topic")
    git(hooked, "checkout", "-q", "main")
    (hooked / "README.md").write_text("# main\n")
    git(hooked, "commit", "-q", "--no-verify", "-am", "main")
    subprocess.run(["git", "merge", "topic"], cwd=hooked, capture_output=True, env=env)
    (hooked / "README.md").write_text("# merged\n")
    git(hooked, "add", "README.md")

    done = _commit(hooked, env, "merge topic")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "review skipped (a merge is in progress)" in done.stdout + done.stderr
    assert git(hooked, "log", "-1", "--format=%P").count(" ") == 1  # a real two-parent merge


def test_uninstall_after_commits_restores_the_user_hook(hooked, hermetic_env):
    done = subprocess.run([str(PLT_AGENT), "hook", "uninstall"], cwd=hooked, capture_output=True, text=True)

    hook = hooked / ".git" / "hooks" / "pre-commit"
    assert done.returncode == 0, done.stderr
    assert hook.read_bytes() == USER_HOOK
    assert os.access(hook, os.X_OK)


def test_a_slow_model_is_cut_off_at_the_time_budget(repo, tmp_path, hermetic_env):
    launcher = Path(__file__).parents[1] / "repl" / "slow_scripted_chat.py"  # streams word by word
    spec = _script(tmp_path, "info app.py:1: " + "word " * 400)
    env = {**hermetic_env, "PLT_AGENT_MODEL": spec, "PLT_TEST_WORD_DELAY": "0.15"}  # 60 s in all
    (repo / "README.md").write_text("# slow\n")
    git(repo, "add", "README.md")

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(launcher), "hook", "run", "--timeout", "1.5"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert done.returncode == 0
    assert time.monotonic() - started < 30  # the whole answer would take 60 s (wide: a busy machine)
    assert "ran out of its 1.5 s budget" in done.stdout
    assert "info app.py:1" not in done.stdout  # the half-written finding is not shown
