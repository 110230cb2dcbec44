"""`plt-agent chat` holds the repository's run lock for the session: a chat started while a
fix works there exits 2 with one line; a chat killed in the middle of a shell command has
that command undone by the next run, and its finished changes kept."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from userstate import child_env, plt_agent


def _script(tmp: Path, replies: list[dict]) -> Path:
    path = tmp / "replies.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in replies))
    return path


def _call(name: str, **params: str) -> dict:
    body = "".join(f"<parameter={k}>{v}</parameter>\n" for k, v in params.items())
    return {"content": f"<function={name}>\n{body}</function>"}


def test_a_chat_while_a_fix_holds_the_repository_exits_2(repo, tmp_path):
    lock = repo / ".git" / "plt-agent" / "run.lock"
    env = child_env(tmp_path / "home")
    code = (
        "import time; from tools.runlock import RunLock; "
        f"RunLock({str(lock)!r}).acquire('fix', 'plt-agent fix .'); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        chat = plt_agent("chat", ".", "--model", f"scripted:{_script(tmp_path, [])}", cwd=repo, env=env)
        out, err = chat.communicate(input="", timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert chat.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"pid {holder.pid}" in lines[0]


def test_a_chat_killed_in_a_command_keeps_its_finished_edits_and_loses_the_command(repo, tmp_path):
    env = child_env(tmp_path / "home")
    files = sorted(p.name for p in repo.iterdir() if p.is_file())
    target = repo / files[0]
    original = target.read_bytes()
    edit = _call("write", path="kept.txt", content="kept")
    kill = _call("bash", command=f"echo junk >> {files[0]}; kill -9 $PPID")
    chat = plt_agent(
        "chat",
        ".",
        "--yes",  # stdin is not a terminal: without it the model's command would be refused
        "--model",
        f"scripted:{_script(tmp_path, [edit, kill])}",
        "--yes",  # without a terminal the model's commands are refused otherwise
        cwd=repo,
        env=env,
        stdin=subprocess.PIPE,
    )
    chat.communicate(input="do it\n", timeout=60)
    assert chat.returncode == -signal.SIGKILL
    assert target.read_bytes() != original
    undo = plt_agent("recover", cwd=repo, env=env)
    _, err = undo.communicate(timeout=60)
    assert target.read_bytes() == original  # the killed command is undone
    assert (repo / "kept.txt").read_text().strip() == "kept"  # the chat's finished edit is kept
    assert "put back: " + files[0] in err
