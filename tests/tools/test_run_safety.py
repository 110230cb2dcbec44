"""Nothing lost, at the tools level: the run lock, write-ahead journal, recovery after SIGKILL
and the git guard, with real processes, real signals and real git on a repository holding
every kind of uncommitted work (tests/userstate.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from userstate import child_env, differences, git, make_user_repo, plt_agent, user_state

from tools.registry import run_tool
from tools.workspace import Workspace

# The lock, run and recovery API is imported inside the tests that use it, so the tests of
# behaviour alone also run (and fail) against code that lacks it.


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    return make_user_repo(tmp_path / "repo")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(tmp_path / "home")


def _run(args: list[str], repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = plt_agent(*args, cwd=repo, env=env)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _hold_lock(lock: Path, env: dict[str, str]) -> subprocess.Popen:
    """A separate process that takes the lock as a `fix` would and keeps it until killed."""
    code = (
        "import sys, time; from tools.runlock import RunLock; "
        f"RunLock({str(lock)!r}).acquire('fix', 'plt-agent fix . -m holder'); print('held', flush=True); "
        "time.sleep(120)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _proc_start(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rfind(")") + 2 :].split()[19])


# ---- the run lock ------------------------------------------------------------------------


def test_a_second_run_is_refused_naming_the_holder_then_a_dead_holder_is_taken_over(user_repo, env):
    from tools.runlock import RepositoryBusy, RunLock

    lock_path = user_repo / ".git" / "plt-agent" / "run.lock"
    holder = _hold_lock(lock_path, env)
    try:
        with pytest.raises(RepositoryBusy) as busy:
            RunLock(lock_path).acquire("tool")
        assert busy.value.exit_code == 2
        assert f"pid {holder.pid}" in str(busy.value)
        assert "plt-agent fix . -m holder" in str(busy.value)
        before = user_state(user_repo)
        cli = _run(["tool", "run", "write", "--args", '{"path": "calc.py", "content": "x"}'], user_repo, env)
        assert cli.returncode == 2
        lines = [line for line in cli.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, cli.stderr
        assert "another plt-agent run is working in this repository" in lines[0]
        assert f"pid {holder.pid}" in lines[0]
        assert "Traceback" not in cli.stderr
        assert user_state(user_repo) == before  # the refused run changed nothing
    finally:
        holder.kill()
        holder.wait()
    lock = RunLock(lock_path)
    stale = lock.acquire("tool")  # the holder is dead (reaped): its lock is taken over
    assert stale is not None
    assert stale.pid == holder.pid
    now = lock.holder()
    assert now is not None
    assert now.pid == os.getpid()
    lock.release()
    assert not lock_path.exists()


def test_a_reused_pid_or_a_zombie_does_not_hold_the_lock(tmp_path):
    from tools.runlock import RunLock

    lock_path = tmp_path / "run.lock"
    parent = os.getppid()  # alive, but it never took this lock: its start time differs
    record = {"pid": parent, "start": _proc_start(parent) + 1, "boot": "", "started": 0, "kind": "fix"}
    lock_path.write_text(json.dumps(record))
    stale = RunLock(lock_path).acquire("tool")
    assert stale is not None
    assert stale.pid == parent
    RunLock(lock_path).release()

    child = subprocess.Popen(["sleep", "0.1"])
    record = {"pid": child.pid, "start": _proc_start(child.pid), "boot": "", "started": 0, "kind": "fix"}
    lock_path.write_text(json.dumps(record))
    deadline = time.monotonic() + 5
    while "State:\tZ" not in Path(f"/proc/{child.pid}/status").read_text():  # exited, not reaped
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stale = RunLock(lock_path).acquire("tool")
    assert stale is not None
    assert stale.pid == child.pid
    RunLock(lock_path).release()
    child.wait()


# ---- write-ahead journal and recovery ----------------------------------------------------

_DIE_IN_WRITE = """
import os, sys
from tools.runs import begin_run
from tools.workspace import Workspace
import tools.fsutil as fsutil

ws = Workspace(sys.argv[1])
begin_run(ws, "fix", command="plt-agent fix (test)")
ws.write_text("calc.py", "edited by the run\\n")
ws.delete("notes.txt")
ws.write_text("new/dir/made.py", "created\\n")
real = fsutil.replace_file
def die_after_writing(target, data):
    real(target, data)
    os.kill(os.getpid(), 9)  # killed between the write and its confirmation in the journal
fsutil.replace_file = die_after_writing
ws.write_text("lib.py", "half-confirmed\\n")
"""


def test_a_run_killed_in_the_middle_of_a_write_is_put_back_by_recover(user_repo, env):
    before = user_state(user_repo)
    proc = subprocess.run([sys.executable, "-c", _DIE_IN_WRITE, str(user_repo)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (user_repo / "lib.py").read_text() == "half-confirmed\n"
    from tools.workspace import UnfinishedRun

    with pytest.raises(UnfinishedRun, match="plt-agent recover"):
        Workspace(user_repo).snapshot()  # never drops a dead run's journal
    cli = _run(["recover"], user_repo, env)
    assert differences(before, user_state(user_repo)) == []
    assert cli.returncode == 0, cli.stderr
    assert "plt-agent fix (test)" in cli.stderr
    for rel in ("calc.py", "lib.py", "notes.txt", "new/dir/made.py"):
        assert rel in cli.stderr
    again = _run(["recover"], user_repo, env)
    assert "nothing to recover" in again.stderr


_SHELL_EDIT = (
    "sed -i 's/return a - b/return 42/' calc.py lib.py && rm notes.txt && echo new > made.txt && "
    "mkdir -p pkg && echo x > pkg/mod.py && printf 'BIN' > data.bin && chmod -x run.sh && "
    "kill -9 $PPID; sleep 5"
)


def test_sigkill_inside_a_shell_command_is_undone_by_the_next_call(user_repo, env):
    before = user_state(user_repo)
    args = json.dumps({"command": _SHELL_EDIT})
    killed = _run(["tool", "run", "bash", "--args", args], user_repo, env)
    assert killed.returncode == -signal.SIGKILL
    assert (user_repo / "made.txt").exists()
    assert not (user_repo / "notes.txt").exists()
    undo = _run(["tool", "run", "undo"], user_repo, env)
    assert differences(before, user_state(user_repo)) == []
    assert "stopped before it finished" in undo.stderr
    for rel in ("made.txt", "notes.txt", "pkg/mod.py", "run.sh", "data.bin", "calc.py", "lib.py"):
        assert rel in undo.stderr


def test_recovery_keeps_what_it_overwrites_when_it_cannot_tell_who_wrote_it(user_repo, env):
    before = user_state(user_repo)
    args = json.dumps({"command": "echo 'run' >> calc.py; kill -9 $PPID"})
    assert _run(["tool", "run", "bash", "--args", args], user_repo, env).returncode == -signal.SIGKILL
    with open(user_repo / "calc.py", "a") as fh:
        fh.write("# typed by the user after the crash\n")
    cli = _run(["recover"], user_repo, env)
    assert differences(before, user_state(user_repo)) == []
    patch = next((user_repo / ".git" / "plt-agent").glob("recovered-*.patch"))
    assert "+# typed by the user after the crash" in patch.read_text()
    assert str(patch) in cli.stderr.replace("\n", "")
    subprocess.run(["patch", "-s", "-p1", "-d", str(user_repo), "-i", str(patch)], check=True)
    assert (user_repo / "calc.py").read_text().endswith("run\n# typed by the user after the crash\n")


def test_the_undo_message_for_a_missing_original_is_not_too_large(user_repo):
    ws = Workspace(user_repo)
    ws.snapshot()
    assert run_tool("edit", {"path": "calc.py", "old": "return a - b", "new": "return a * b"}, ws).ok
    original = ws.journal.entries["calc.py"].original
    (ws.store.folder / original[:2] / original[2:]).unlink()  # e.g. pruned by a buggy second run
    undo = run_tool("undo", {}, ws)
    assert not undo.ok
    assert "missing from plt-agent's store" in undo.data["skipped"]["calc.py"]
    assert "too large" not in undo.text


# ---- git state ---------------------------------------------------------------------------

_GIT_BY_SCRIPT = (
    "python3 -c \"import subprocess as s; "
    "s.run(['git', 'stash', '-u', '-q']); "
    "s.run(['git', '-c', 'user.name=m', '-c', 'user.email=m@', 'commit', '-q', '--allow-empty', '-m', 'x']); "
    "s.run(['git', 'branch', 'model-branch']); "
    "s.run(['git', 'tag', 'model-tag'])\""
)  # fmt: skip


def test_git_changes_made_behind_the_guards_back_are_put_back_exactly(user_repo):
    from tools.runs import begin_run

    before = user_state(user_repo)
    ws = Workspace(user_repo)
    run = begin_run(ws, "fix")
    obs = run_tool("bash", {"command": _GIT_BY_SCRIPT}, ws)
    assert obs.ok, obs.text
    changed = user_state(user_repo)
    assert changed["stash_list"].count("stash@") == 2
    assert changed["head_commit"] != before["head_commit"]
    report = ws.restore_all()
    run.finish()
    assert differences(before, user_state(user_repo)) == []
    assert set(report.git_restored) >= {
        "refs/heads/main",
        "stash",
        "refs/heads/model-branch",
        "refs/tags/model-tag",
    }
    assert report.git_skipped == {}


def test_git_changes_someone_else_made_between_commands_are_left_alone(user_repo):
    from tools.runs import begin_run

    ws = Workspace(user_repo)
    run = begin_run(ws, "fix")
    assert run_tool(
        "bash", {"command": "python3 -c \"import subprocess; subprocess.run(['git', 'tag', 't1'])\""}, ws
    ).ok
    git(user_repo, "branch", "users-own")  # the user, between two of the agent's commands
    report = ws.restore_all()
    run.finish()
    assert "refs/heads/users-own" in git(user_repo, "for-each-ref", "--format=%(refname)")
    assert "refs/tags/t1" not in git(user_repo, "for-each-ref", "--format=%(refname)")
    assert report.git_restored == ["refs/tags/t1"]


@pytest.mark.parametrize(
    "command",
    [
        "git add -A && git commit -qm x",
        "git stash -u",
        "echo ok\ngit reset --hard",
        "git checkout -b other",
        "cd . && git rm --cached lib.py",
        "bash -c 'git update-ref refs/heads/main HEAD~0'",
        "git clean -fdx",
    ],
)
def test_the_models_git_commands_that_would_change_git_state_are_refused(user_repo, command):
    before = user_state(user_repo)
    ws = Workspace(user_repo)
    ws.snapshot()
    obs = run_tool("bash", {"command": command}, ws)
    assert user_state(user_repo) == before
    assert not obs.ok
    assert obs.text.startswith("refused: `git ")
    assert "change the files only" in obs.text


def test_read_only_git_commands_run_and_leave_the_index_bytes_alone(user_repo):
    before = user_state(user_repo)
    ws = Workspace(user_repo)
    ws.snapshot()
    obs = run_tool(
        "bash", {"command": "git status --short && git diff --cached --stat && git stash list"}, ws
    )
    assert obs.ok
    assert "stash@{0}" in obs.text
    assert user_state(user_repo) == before  # `git status` did not refresh (rewrite) the index
    refused = run_tool("run_tests", {"command": "git stash"}, ws)
    assert not refused.ok
    assert refused.text.startswith("refused: `git stash")


def test_a_run_stopped_while_putting_things_back_leaves_its_journal_to_the_next_run(user_repo):
    from tools.runs import begin_run

    before = user_state(user_repo)
    ws = Workspace(user_repo)
    run = begin_run(ws, "fix", command="first")
    assert run_tool("write", {"path": "calc.py", "content": "junk\n"}, ws).ok
    run.finish(completed=False)  # e.g. a second Ctrl-C hit the restore
    second = Workspace(user_repo)
    again = begin_run(second, "fix", command="second")
    again.finish()
    assert differences(before, user_state(user_repo)) == []
    assert [rec.report.restored for rec in again.recovered] == [["calc.py"]]


def test_a_dead_runs_file_changed_since_blocks_new_runs_until_recover_force(user_repo, env):
    before = user_state(user_repo)
    proc = subprocess.run([sys.executable, "-c", _DIE_IN_WRITE, str(user_repo)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    (user_repo / "calc.py").write_text("the user's edit after the crash\n")
    blocked = _run(["tool", "run", "write", "--args", '{"path": "x.py", "content": "x"}'], user_repo, env)
    assert blocked.returncode == 2
    assert "calc.py changed since" in blocked.stderr
    assert "plt-agent recover --force" in blocked.stderr
    assert not (user_repo / "x.py").exists()
    plain = _run(["recover"], user_repo, env)
    assert plain.returncode == 1
    assert (user_repo / "calc.py").read_text() == "the user's edit after the crash\n"  # not overwritten
    assert "left alone: calc.py" in plain.stderr
    forced = _run(["recover", "--force"], user_repo, env)
    assert forced.returncode == 0, forced.stderr
    assert differences(before, user_state(user_repo)) == []
    patch = next((user_repo / ".git" / "plt-agent").glob("recovered-*.patch"))
    assert "+the user's edit after the crash" in patch.read_text()
