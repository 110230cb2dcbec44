"""bash: a fresh process group per call, timeouts that kill grandchildren, head+tail output."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tools.registry import run_tool
from tools.shell import OUTPUT_LIMIT, run_command


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" in status.read_text()  # a zombie nobody reaped yet


def test_timeout_kills_the_whole_process_group(ws):
    command = "(sleep 2; echo late > late.txt) & sleep 300 & echo $! > pid.txt; wait"
    start = time.monotonic()
    obs = run_tool("bash", {"command": command, "timeout": 1}, ws)
    assert time.monotonic() - start < 10
    assert not obs.ok
    assert obs.data["timed_out"]
    assert "timed out" in obs.text
    pid = int((ws.root / "pid.txt").read_text())
    deadline = time.monotonic() + 3
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)
    time.sleep(2.5)  # longer than the background job would have needed
    assert not (ws.root / "late.txt").exists()


def test_background_jobs_do_not_outlive_the_call(ws):
    obs = run_tool("bash", {"command": "(sleep 1.5; echo late > late.txt) & echo started"}, ws)
    assert obs.ok
    assert obs.data["exit_code"] == 0
    assert "started" in obs.text
    time.sleep(2.5)
    assert not (ws.root / "late.txt").exists()


def test_exit_code_and_empty_output(ws):
    obs = run_tool("bash", {"command": "exit 3"}, ws)
    assert obs.ok
    assert obs.data["exit_code"] == 3
    assert "(no output)" in obs.text
    assert "[exit code 3]" in obs.text


def test_each_call_is_a_fresh_process_in_the_repo_root(ws):
    (ws.root / "sub").mkdir()
    run_tool("bash", {"command": "cd sub && export PLT_TEST_VAR=1"}, ws)
    obs = run_tool("bash", {"command": 'pwd; echo "var=[$PLT_TEST_VAR]"'}, ws)
    assert obs.text.splitlines()[0] == str(ws.root)
    assert "var=[]" in obs.text


def test_long_output_keeps_head_and_tail_and_counts_the_cut(tmp_path):
    script = "import sys; sys.stdout.write('H' * 10000 + 'M' * 10000 + 'T' * 10000 + '\\n')"
    result = run_command([sys.executable, "-c", script], tmp_path)
    total = 30001
    head, tail = OUTPUT_LIMIT * 2 // 3, OUTPUT_LIMIT - OUTPUT_LIMIT * 2 // 3
    assert result.cut_chars == total - OUTPUT_LIMIT
    assert result.output.startswith("H" * head + "\n[...")
    assert f"[... {total - OUTPUT_LIMIT:,} bytes of output cut ...]" in result.output
    assert result.output.endswith("T" * (tail - 1) + "\n")
    assert "M" not in result.output


def test_stderr_is_captured_with_stdout(tmp_path):
    result = run_command("echo out; echo err >&2", tmp_path)
    assert result.output == "out\nerr\n"
    assert result.exit_code == 0


def test_files_changed_by_commands_are_journaled_for_undo(ws):
    run_tool("bash", {"command": "echo made > made.txt && echo 'x = 2' >> app.py && rm -f gone.txt"}, ws)
    assert ws.changed_files() == ["app.py", "made.txt"]
    report = ws.restore_all()
    assert report.removed == ["made.txt"]
    assert report.restored == ["app.py"]
    assert not (ws.root / "made.txt").exists()
    assert (ws.root / "app.py").read_text() == "def main():\n    return 1\n"
