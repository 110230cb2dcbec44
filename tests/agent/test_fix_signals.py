"""Stopping a real `plt-agent fix` while the model's shell command runs, and commands without a terminal.

The repository holds what a user has on the go: an uncommitted edit, a file staged and then
edited again, an untracked file, an ignored file and a stash. The model's command writes into
the user's file 4 s after it starts; Ctrl-C (SIGINT) or SIGTERM reaches `fix` before that.
After fix exits, and 6 s more, every file, the index, HEAD, the refs and the stash must be
exactly as the user left them, and nothing the command started may still run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from agent_helpers import git, write_script, xml_call
from proc_helpers import alive_with

CORE = "mathlib/core.py"


def _user_state(repo: Path) -> dict[str, object]:
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    return {
        "files": files,
        "index": (repo / ".git" / "index").read_bytes(),
        "head": git(repo, "rev-parse", "HEAD"),
        "refs": git(repo, "for-each-ref"),
        "stash": git(repo, "stash", "list", "--format=%H %s"),
    }


def _users_work_in_progress(repo: Path) -> None:
    init = repo / "mathlib" / "__init__.py"
    init.write_text(init.read_text() + "# stashed idea\n")
    git(repo, "stash", "push", "-q", "-m", "an idea for later")
    core = repo / CORE
    core.write_text("# the user's note, not committed\n" + core.read_text())
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "staged line\n")
    git(repo, "add", "README.md")
    readme.write_text(readme.read_text() + "unstaged line on top\n")
    (repo / "notes.txt").write_text("untracked notes\n")
    (repo / "scratch.pyc").write_bytes(b"\x00ignored bytes\xff")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_shell_command_leaves_the_users_state_alone(demo_repo, tmp_path, signum, exit_code):
    _users_work_in_progress(demo_repo)
    before = _user_state(demo_repo)
    started, tag = tmp_path / "started", f"60.{uuid.uuid4().int % 10**9:09d}"
    command = (
        f"echo go > {started}; sleep 4; printf 'INJECTED\\n' >> {CORE}; echo late > late.txt; "
        f"setsid sleep {tag} & sleep {tag}"
    )
    script = write_script(tmp_path / "replies.jsonl", [xml_call("bash", command=command), "never used"])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plt_agent.cli",
            "fix",
            str(demo_repo),
            "--yes",
            "--model",
            f"scripted:{script}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the model's command never started"
            time.sleep(0.05)
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == exit_code, err
    assert alive_with(tag) == []
    time.sleep(6)  # the command would have written 4 s after it started
    assert _user_state(demo_repo) == before


def test_without_a_terminal_or_yes_the_models_commands_are_refused(demo_repo, tmp_path, cli):
    ran = tmp_path / "ran.txt"
    bash = xml_call("bash", command=f"echo ran > {ran}")
    via_tests = xml_call("run_tests", command=f"echo ran > {ran}")
    script = write_script(tmp_path / "r.jsonl", [bash, via_tests, "never used"])
    traj = tmp_path / "run.jsonl"

    result = cli(
        "fix", str(demo_repo), "--model", f"scripted:{script}", "--max-steps", "2", "--trajectory", str(traj)
    )

    assert result.exit_code == 1, result.output
    assert not ran.exists()
    assert result.stderr.count("shell commands are refused") == 1
    assert "pass --yes" in result.stderr
    log = traj.read_text()
    assert log.count('"refused": "refused"') == 2


def test_with_yes_the_models_commands_run_without_a_terminal(demo_repo, tmp_path, cli):
    ran = tmp_path / "ran.txt"
    script = write_script(tmp_path / "r.jsonl", [xml_call("bash", command=f"echo ran > {ran}"), "never used"])

    result = cli("fix", str(demo_repo), "--yes", "--model", f"scripted:{script}", "--max-steps", "1")

    assert result.exit_code == 1, result.output
    assert ran.read_text() == "ran\n"
    assert "refused" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_setsid_child_holding_the_pipe_under_a_3s_timeout_in_a_fix_run(demo_repo, tmp_path, cli):
    _users_work_in_progress(demo_repo)
    before = _user_state(demo_repo)
    tag = f"60.{uuid.uuid4().int % 10**9:09d}"
    command = f"setsid sh -c 'sleep 5; printf INJECTED >> {CORE}; sleep {tag}' & sleep {tag}"
    script = write_script(
        tmp_path / "r.jsonl", [xml_call("bash", command=command, timeout="3"), "never used"]
    )
    traj = tmp_path / "run.jsonl"

    started = time.monotonic()
    result = cli(
        "fix",
        str(demo_repo),
        "--yes",
        "--model",
        f"scripted:{script}",
        "--max-steps",
        "1",
        "--trajectory",
        str(traj),
    )
    took = time.monotonic() - started

    assert result.exit_code == 1, result.output
    bash = [e for e in map(json.loads, traj.read_text().splitlines()) if e.get("name") == "bash"]
    assert len(bash) == 1
    assert bash[0]["seconds"] < 10  # the call returned; the child held the pipe in vain
    assert took < 60
    assert alive_with(tag) == []
    time.sleep(6)  # the child would have written 5 s after it started
    assert _user_state(demo_repo) == before
