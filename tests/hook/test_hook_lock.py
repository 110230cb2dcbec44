"""The hook and the repository's run lock: while a fix or chat works there, the commit goes
through unreviewed with one line; otherwise the review holds the lock and drops it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from hook_helpers import CallLog, FakeModel, git
from rich.console import Console

from plt_agent.hook.run import HookOptions, run_hook


def _hook(repo: Path, fake: FakeModel) -> tuple[int, str, str, list]:
    buf = io.StringIO()
    console = Console(file=buf, width=200, soft_wrap=True, highlight=False)
    loads: list = []

    def load(spec):  # type: ignore[no-untyped-def]
        loads.append(spec)
        return fake

    result = run_hook(repo, HookOptions(), load, console, environ={})
    return result.exit_code, result.skipped, buf.getvalue(), loads


def test_a_commit_during_a_fix_is_let_through_without_a_review(repo, hermetic_env):
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(repo, "add", "app.py")
    lock = repo / ".git" / "plt-agent" / "run.lock"
    code = (
        "import time; from tools.runlock import RunLock; "
        f"RunLock({str(lock)!r}).acquire('fix', 'plt-agent fix [/x] .'); "
        "print('held', flush=True); time.sleep(60)"
    )
    env = {**hermetic_env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        exit_code, skipped, out, loads = _hook(repo, FakeModel(says="- app.py:2 blocker: wrong"))
    finally:
        holder.kill()
        holder.wait()
    assert exit_code == 0
    assert loads == []  # the model was never loaded
    assert f"pid {holder.pid}" in skipped
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("plt-agent: review skipped (`plt-agent fix [/x] .`")
    assert lines[0].endswith("the commit goes through")


def test_the_review_takes_the_lock_and_drops_it(repo, hermetic_env):
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    git(repo, "add", "app.py")
    seen = CallLog()  # the review runs in a forked child: it reports through a file
    lock = repo / ".git" / "plt-agent" / "run.lock"

    class Watching(FakeModel):
        def complete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(lock.exists())
            return super().complete(*args, **kwargs)

    exit_code, skipped, _, loads = _hook(repo, Watching())
    assert (exit_code, skipped) == (0, "")
    assert seen.read() == [True]
    assert not lock.exists()
