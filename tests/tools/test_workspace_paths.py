"""Every path stays inside the repository: `..`, absolute paths and symlinks that lead out are refused."""

from __future__ import annotations

import os
import stat

import pytest

from tools.base import ToolError
from tools.registry import run_tool
from tools.workspace import Workspace


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.txt").write_text("top secret\n")
    return secret


@pytest.mark.parametrize("path", ["../outside/secret.txt", "sub/../../outside/secret.txt", ".."])
def test_dotdot_escapes_are_refused(ws, outside, path):
    with pytest.raises(ToolError, match="outside the repository"):
        ws.resolve(path)


def test_dotdot_that_stays_inside_is_fine(ws):
    assert ws.resolve("pkg/../app.py") == ws.root / "app.py"


def test_absolute_paths(ws, outside):
    with pytest.raises(ToolError, match="absolute path .* outside the repository"):
        ws.resolve(str(outside / "secret.txt"))
    assert ws.resolve(str(ws.root / "app.py")) == ws.root / "app.py"


def test_symlinks_leading_outside_are_refused(ws, outside):
    os.symlink(outside / "secret.txt", ws.root / "link.txt")
    os.symlink(outside, ws.root / "linkdir")
    for path in ("link.txt", "linkdir/secret.txt", "linkdir/new.txt"):
        with pytest.raises(ToolError, match="symlink"):
            ws.resolve(path)
    obs = run_tool("view", {"path": "link.txt"}, ws)
    assert not obs.ok
    assert "top secret" not in obs.text
    obs = run_tool("write", {"path": "linkdir/new.txt", "content": "x"}, ws)
    assert not obs.ok
    assert not (outside / "new.txt").exists()
    obs = run_tool("edit", {"path": "link.txt", "old": "top secret", "new": "changed"}, ws)
    assert not obs.ok
    assert (outside / "secret.txt").read_text() == "top secret\n"


def test_symlink_inside_the_repository_is_followed(ws):
    os.symlink(ws.root / "app.py", ws.root / "alias.py")
    assert ws.resolve("alias.py") == ws.root / "app.py"


@pytest.mark.parametrize("tool", ["view", "search"])
def test_tools_refuse_escapes_with_a_message(ws, outside, tool):
    args = {"path": "../outside/secret.txt"}
    if tool == "search":
        args["pattern"] = "secret"
    obs = run_tool(tool, args, ws)
    assert not obs.ok
    assert "outside the repository" in obs.text
    assert "top secret" not in obs.text


def test_git_directory_is_not_writable(ws):
    config = (ws.root / ".git" / "config").read_text()
    obs = run_tool("write", {"path": ".git/config", "content": "[core]\n"}, ws)
    assert not obs.ok
    assert ".git" in obs.text
    assert (ws.root / ".git" / "config").read_text() == config


def test_atomic_write_keeps_mode_bits_and_leaves_no_temp_files(ws):
    script = ws.root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    ws.write_text("run.sh", "#!/bin/sh\necho bye\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "#!/bin/sh\necho bye\n"
    assert [p.name for p in ws.root.iterdir() if "plt-tmp" in p.name] == []


def test_new_files_get_the_umask_default_mode(ws):
    ws.write_text("made.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((ws.root / "made.txt").stat().st_mode) == 0o666 & ~mask


def test_binary_and_huge_files_are_described_not_dumped(ws):
    (ws.root / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    obs = run_tool("view", {"path": "blob.bin"}, ws)
    assert obs.ok
    assert "binary" in obs.text
    assert "\x00" not in obs.text
    obs = run_tool("edit", {"path": "blob.bin", "old": "a", "new": "b"}, ws)
    assert not obs.ok
    assert "binary" in obs.text
    with pytest.raises(ToolError, match="too large"):
        Workspace(ws.root).read_text("app.py", limit=5)


def test_root_must_be_a_directory(tmp_path):
    with pytest.raises(ToolError, match="not a directory"):
        Workspace(tmp_path / "missing")
