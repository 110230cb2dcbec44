"""Nothing a command starts outlives the call: setsid children, daemons, Ctrl-C, stop requests.

Real processes and real signals; survivors are looked for in /proc by a tag in their
command line (each test uses its own), so a process that escaped its session or was
re-parented is still found.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from proc_helpers import alive_with

from tools.procs import kill_leftovers, signals_deferred
from tools.registry import run_tool
from tools.shell import run_command, stop_commands

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def _tag() -> str:
    """A `sleep` argument no other process has: 3000.<random digits> seconds."""
    return f"3000.{uuid.uuid4().int % 10**9:09d}"


def _zombie_children() -> set[int]:
    """Our children that died and were never collected."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == b"Z" and int(fields[1]) == os.getpid():
            found.add(int(entry.name))
    return found


def _daemon(tag: str, *, clear_env: bool = False) -> str:
    """A shell line starting a classic double-fork daemon that keeps stdout (the pipe) open."""
    code = (
        "import os, time\n"
        "if os.fork(): os._exit(0)\n"
        "os.setsid()\n"
        "if os.fork(): os._exit(0)\n"
        "print('daemon up', flush=True)\n"
        f"os.execvp('sleep', ['sleep', '{tag}'])\n"
    )
    prefix = "env -i " if clear_env else ""
    return f'{prefix}{sys.executable} -c "{code}"'


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def tag():
    value = _tag()
    yield value
    _kill(alive_with(value))  # never leave a test's processes behind, even when it fails


@pytest.mark.slow
def test_a_setsid_child_holding_the_pipe_does_not_stretch_a_3s_timeout(ws, tag):
    command = f"setsid sleep {tag} & echo started; sleep {tag}"
    start = time.monotonic()
    obs = run_tool("bash", {"command": command, "timeout": 3}, ws)
    took = time.monotonic() - start

    assert obs.data["timed_out"]
    assert "started" in obs.text
    assert took < 10, f"took {took:.1f} s"
    assert alive_with(tag) == []


@pytest.mark.slow
def test_a_double_fork_daemon_holding_the_pipe_does_not_stretch_a_3s_timeout(ws, tag):
    command = f"{_daemon(tag)}; sleep 1; echo parent done; sleep {tag}"
    start = time.monotonic()
    obs = run_tool("bash", {"command": command, "timeout": 3}, ws)
    took = time.monotonic() - start

    assert obs.data["timed_out"]
    assert "daemon up" in obs.text
    assert "parent done" in obs.text
    assert took < 10, f"took {took:.1f} s"
    assert alive_with(tag) == []


@pytest.mark.parametrize(
    "launch",
    [
        "setsid sleep {tag} &",
        "nohup sleep {tag} >/dev/null 2>&1 &",
        "env -i setsid sleep {tag} &",  # no marker in its environment, its own session, orphaned
        "DAEMON",
        "ENV-I-DAEMON",
    ],
    ids=["setsid", "nohup", "env-i-setsid", "daemon", "env-i-daemon"],
)
def test_nothing_outlives_a_command_that_exits_normally(tmp_path, tag, launch):
    if launch == "DAEMON":
        line = _daemon(tag)
    elif launch == "ENV-I-DAEMON":
        line = _daemon(tag, clear_env=True)
    else:
        line = launch.format(tag=tag)
    zombies = _zombie_children()
    start = time.monotonic()
    result = run_command(f"{line}\necho finished", tmp_path, timeout=60)

    assert result.exit_code == 0
    assert "finished" in result.output
    assert time.monotonic() - start < 10
    assert alive_with(tag) == []
    assert _zombie_children() - zombies == set()  # the re-parented ones were collected too


def test_ctrl_c_kills_the_command_before_the_interrupt_reaches_the_caller(tmp_path, tag):
    late = tmp_path / "late.txt"
    command = f"(sleep 2; echo late > {late}) & setsid sleep {tag} & sleep {tag}"
    timer = threading.Timer(0.8, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_command(command, tmp_path, timeout=60)
        survivors = alive_with(tag)  # looked at the moment the interrupt arrives, not later
    finally:
        timer.cancel()

    assert survivors == []
    time.sleep(2.5)  # longer than the background writer would have needed
    assert not late.exists()


def test_stop_commands_ends_a_running_command_now(tmp_path, tag):
    threading.Timer(0.8, stop_commands).start()
    start = time.monotonic()
    result = run_command(f"echo begun; setsid sleep {tag} & sleep {tag}", tmp_path, timeout=60)

    assert result.stopped
    assert not result.timed_out
    assert result.exit_code is None
    assert "begun" in result.output
    assert time.monotonic() - start < 10
    assert alive_with(tag) == []


def test_signals_are_held_back_during_cleanup_and_delivered_after():
    reached = []

    def hold_then_leave() -> None:
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            reached.append("the end of the block, nothing raised inside it")

    with pytest.raises(KeyboardInterrupt):
        hold_then_leave()
    assert reached == ["the end of the block, nothing raised inside it"]


@pytest.mark.slow
def test_what_a_killed_plt_agent_left_running_is_found_and_killed_afterwards(tmp_path, tag):
    started = tmp_path / "started"
    command = f"echo go > {started}; setsid sleep {tag} & sleep {tag}"
    owner_code = (
        "from pathlib import Path; from tools.shell import run_command; "
        f"run_command({command!r}, Path({str(tmp_path)!r}), timeout=600)"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while not started.exists() or len(alive_with(tag)) < 2:
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    owner.kill()  # SIGKILL: no cleanup at all
    owner.wait()
    left = alive_with(tag)
    assert len(left) >= 2  # what a crash leaves behind: the shell and its two sleeps

    hit = kill_leftovers(owner.pid)

    deadline = time.monotonic() + 5
    while alive_with(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hit >= len(left)
    assert alive_with(tag) == []
