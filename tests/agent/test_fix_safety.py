"""Nothing lost: whole `plt-agent fix` processes, run at once, SIGKILLed, SIGTERMed, on a
repository holding every kind of uncommitted user work (tests/userstate.py). Each test ends
by comparing every file's bytes and mode, HEAD, the index (entries and raw bytes), the refs
and the stash with the state before."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from agent_helpers import write_script, xml_call
from userstate import child_env, differences, make_user_repo, plt_agent, user_state

pytestmark = pytest.mark.slow

TESTS = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider"
SHELL_EDIT = (
    "rm notes.txt && echo made > made.txt && mkdir -p pkg && echo x > pkg/m.py && "
    "printf NEW > data.bin && chmod -x run.sh"
)


def _editing_replies() -> list[str]:
    return [
        xml_call("edit", path="calc.py", old="    return a - b", new="    return a * b"),
        xml_call("write", path="lib.py", content="X = 99\n"),
        xml_call("bash", command=SHELL_EDIT),
        xml_call("view", path="calc.py"),
        "never used",
    ]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Fix:
    """A `plt-agent fix` process; its output goes to files (a full pipe would stall it)."""

    def __init__(self, repo: Path, tmp: Path, name: str, script: Path, *extra: str, test_cmd: str = TESTS):
        self.out, self.err = tmp / f"{name}.out", tmp / f"{name}.err"
        args = [
            "fix",
            ".",
            "--model",
            f"scripted:{script}",
            "--test-cmd",
            test_cmd,
            "--max-steps",
            "4",
            "--yes",
        ]
        env = child_env(tmp / "home")
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = plt_agent(*args, *extra, cwd=repo, env=env, stdout=out, stderr=err)

    def wait(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stderr(self) -> str:
        return self.err.read_text()


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    return make_user_repo(tmp_path / "repo")


def _changed(path: Path, text: str) -> Callable[[], bool]:
    return lambda: path.read_text() != text


def test_two_fix_runs_at_once_leave_the_users_work_intact(user_repo, tmp_path):
    before = user_state(user_repo)
    script = write_script(tmp_path / "replies.jsonl", _editing_replies())
    slow_tests = f"sleep 2; {TESTS}"
    first = Fix(user_repo, tmp_path, "first", script, test_cmd=slow_tests)
    _wait_for(_changed(user_repo / "calc.py", (user_repo / "calc.py").read_text()), "the first run's edit")
    second = Fix(user_repo, tmp_path, "second", script, test_cmd=slow_tests)
    codes = second.wait(), first.wait()
    assert differences(before, user_state(user_repo)) == []
    assert codes == (2, 1), first.stderr + second.stderr
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, second.stderr
    assert "another plt-agent run is working in this repository" in lines[0]
    assert f"pid {first.proc.pid}" in lines[0]
    assert "Left alone" not in first.stderr


def test_wait_runs_the_second_fix_after_the_first(user_repo, tmp_path):
    before = user_state(user_repo)
    script = write_script(tmp_path / "replies.jsonl", _editing_replies())
    first = Fix(user_repo, tmp_path, "first", script, test_cmd=f"sleep 1; {TESTS}")
    _wait_for(_changed(user_repo / "calc.py", (user_repo / "calc.py").read_text()), "the first run's edit")
    second = Fix(user_repo, tmp_path, "second", script, "--wait")
    assert (first.wait(), second.wait()) == (1, 1), first.stderr + second.stderr
    assert differences(before, user_state(user_repo)) == []
    assert "waiting for" in second.stderr
    assert f"pid {first.proc.pid}" in second.stderr


def test_a_fix_killed_midway_is_put_back_by_the_next_fix(user_repo, tmp_path):
    before = user_state(user_repo)
    script = write_script(tmp_path / "replies.jsonl", _editing_replies())
    first = Fix(user_repo, tmp_path, "first", script, test_cmd=f"sleep 2; {TESTS}")
    _wait_for(lambda: (user_repo / "made.txt").exists(), "the first run's shell command")
    first.proc.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    assert differences(before, user_state(user_repo)) != []  # it died with its edits in the tree
    second = Fix(user_repo, tmp_path, "second", script)
    assert second.wait() == 1, second.stderr
    assert differences(before, user_state(user_repo)) == []
    assert f"pid {first.proc.pid}" in second.stderr
    assert "stopped before it finished" in second.stderr


def _killed_command_replies(pid_file: Path) -> list[str]:
    command = (
        "sed -i 's/return a - b/return 0/' calc.py lib.py && rm notes.txt && echo junk > junk.txt && "
        "chmod -x run.sh && python3 -c \"import subprocess as s; s.run(['git', 'add', '-A'])\" && "
        f"echo $$ > {pid_file} && sleep 30"
    )
    return [xml_call("bash", command=command), "never used"]


def test_sigkill_during_a_file_changing_shell_command_then_recover(user_repo, tmp_path):
    before = user_state(user_repo)
    pid_file = tmp_path / "command.pid"
    script = write_script(tmp_path / "replies.jsonl", _killed_command_replies(pid_file))
    run = Fix(user_repo, tmp_path, "run", script)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the shell command")
    run.proc.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    os.killpg(int(pid_file.read_text()), signal.SIGKILL)  # its own session: the kill did not reach it
    assert user_state(user_repo)["ls_files"] != before["ls_files"]  # the command staged everything
    env = child_env(tmp_path / "home")
    recover = plt_agent("recover", cwd=user_repo, env=env)
    _, err = recover.communicate(timeout=60)
    assert differences(before, user_state(user_repo)) == []
    assert recover.returncode == 0, err
    assert "put back: " in err
    assert "git put back: index" in err


def test_sigterm_stops_the_run_and_puts_everything_back(user_repo, tmp_path):
    before = user_state(user_repo)
    pid_file = tmp_path / "command.pid"
    script = write_script(tmp_path / "replies.jsonl", _killed_command_replies(pid_file))
    run = Fix(user_repo, tmp_path, "run", script)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the shell command")
    run.proc.send_signal(signal.SIGTERM)
    code = run.wait()
    assert not Path(f"/proc/{int(pid_file.read_text())}").exists()  # the command died with the run
    assert differences(before, user_state(user_repo)) == []
    assert code == 128 + signal.SIGTERM, run.stderr
    _, err = plt_agent("recover", cwd=user_repo, env=child_env(tmp_path / "home")).communicate(timeout=60)
    assert "nothing to recover" in err


def test_recovery_ends_what_the_killed_run_left_running_before_it_puts_files_back(user_repo, tmp_path):
    """The dead run's shell command lives on in its own session; it would write after the
    restore, so recovery must end it first (found by the marker in its environment)."""
    before = user_state(user_repo)
    pid_file = tmp_path / "command.pid"
    command = f"echo $$ > {pid_file} && sleep 6 && echo late >> calc.py && echo late > late.txt"
    script = write_script(tmp_path / "replies.jsonl", [xml_call("bash", command=command), "never used"])
    run = Fix(user_repo, tmp_path, "run", script)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the shell command")
    run.proc.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    command_pid = int(pid_file.read_text())
    recover = plt_agent("recover", cwd=user_repo, env=child_env(tmp_path / "home"))
    _, err = recover.communicate(timeout=60)
    assert recover.returncode == 0, err
    _wait_for(lambda: not Path(f"/proc/{command_pid}").exists(), "the command to be gone", timeout=5)
    time.sleep(7)  # past the moment the command would have written
    assert differences(before, user_state(user_repo)) == []
