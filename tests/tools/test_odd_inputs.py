"""Odd files and arguments (issue 10): each gives the model a clear observation, never a hang,
a traceback or a write into git's own files. The fuzz suite (tests/fuzz) covers many more."""

from __future__ import annotations

import os
import subprocess

import pytest

from tools.base import ToolError
from tools.registry import run_tool
from tools.search import glob_to_regex


def test_a_fifo_is_refused_without_being_opened(ws):
    os.mkfifo(ws.root / "pipe")  # opening it for reading would block forever: no writer
    for name, args in [
        ("view", {"path": "pipe"}),
        ("edit", {"path": "pipe", "old": "a", "new": "b"}),
        ("insert", {"path": "pipe", "line": 0, "text": "x"}),
        ("write", {"path": "pipe", "content": "x"}),
    ]:
        obs = run_tool(name, args, ws)
        assert not obs.ok
        assert "FIFO" in obs.text
        assert "not a regular file" in obs.text
    assert (ws.root / "pipe").is_fifo()  # write did not replace it


def test_nul_bytes_and_symlink_loops_are_tool_errors(ws):
    os.symlink("b", ws.root / "a")
    os.symlink("a", ws.root / "b")
    with pytest.raises(ToolError, match="NUL byte"):
        ws.resolve("x\0y.py")
    with pytest.raises(ToolError, match="symlink loop"):
        ws.resolve("a")
    obs = run_tool("view", {"path": "a/inner.py"}, ws)
    assert not obs.ok
    assert "symlink loop" in obs.text


@pytest.mark.parametrize(
    "path",
    [".git/hooks/pre-commit", "sub/.git/hooks/pre-commit", "sub/.git", "deep/er/.git/config", ".GIT/x"],
)
def test_nothing_is_written_under_any_git_directory(ws, path):
    sub = ws.root / "sub"
    sub.mkdir()
    subprocess.run(["git", "init", "-q", str(sub)], check=True)
    obs = run_tool("write", {"path": path, "content": "#!/bin/sh\necho pwned\n"}, ws)
    assert not obs.ok
    assert "inside a .git directory" in obs.text
    assert not (ws.root / path).exists() or (ws.root / path).is_dir()
    assert not (sub / ".git" / "hooks" / "pre-commit").exists()


def test_a_link_into_git_hooks_is_no_way_around(ws):
    os.symlink(".git/hooks", ws.root / "hooks")
    obs = run_tool("write", {"path": "hooks/post-commit", "content": "echo pwned\n"}, ws)
    assert not obs.ok
    assert not (ws.root / ".git" / "hooks" / "post-commit").exists()


def test_a_bad_glob_range_is_a_tool_error():
    with pytest.raises(ToolError, match=r"invalid glob \[z-a\]: bad character range"):
        glob_to_regex("[z-a]")
    assert glob_to_regex("[a-z]*.py").match("app.py")


def test_control_characters_in_a_path_are_escaped_in_the_message(ws):
    obs = run_tool("view", {"path": "\x1b[2Jgone.py"}, ws)
    assert not obs.ok
    assert "\x1b" not in obs.text
    assert "\\x1b[2Jgone.py" in obs.text


@pytest.mark.parametrize("value", [10**400, "1e400", "nan", "inf"], ids=["10^400", "1e400", "nan", "inf"])
def test_numbers_beyond_range_are_refused(ws, value):
    obs = run_tool("view", {"path": "app.py", "start": value}, ws)
    assert not obs.ok
    assert "must be integer" in obs.text


def test_a_nul_in_a_command_is_refused(ws):
    obs = run_tool("bash", {"command": "echo a\0b"}, ws)
    assert not obs.ok
    assert "NUL byte" in obs.text


def test_an_unexpected_exception_becomes_an_observation(ws, monkeypatch):
    from tools.view import ViewTool

    def boom(self, args, workspace):
        raise RuntimeError("surprise")

    monkeypatch.setattr(ViewTool, "run", boom)
    obs = run_tool("view", {"path": "app.py"}, ws)
    assert not obs.ok
    assert "failed unexpectedly (RuntimeError: surprise)" in obs.text
    assert obs.data["internal_error"] == "RuntimeError"
