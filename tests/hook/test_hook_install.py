"""`hook install` / `hook uninstall`: keeping and restoring an existing hook exactly."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from hook_helpers import git
from typer.testing import CliRunner

from plt_agent.cli import app
from plt_agent.errors import PltAgentError
from plt_agent.hook.install import MARKER, install, uninstall
from tools.git import NotARepository

runner = CliRunner()
USER_HOOK = (
    b'#!/bin/sh\n# the user\'s own hook\necho user-hook-ran >> "$(git rev-parse --git-dir)/ran"\nexit 0\n'
)


def _write_hook(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def test_install_keeps_the_existing_hook_and_uninstall_restores_it_exactly(repo):
    hook = repo / ".git" / "hooks" / "pre-commit"
    _write_hook(hook, USER_HOOK, 0o750)
    before = _snapshot(hook)

    status = install(repo, command="/bin/true")

    kept = hook.with_name("pre-commit.plt-agent-orig")
    assert status.action == "installed"
    assert status.kept == kept
    assert _snapshot(kept) == before
    assert MARKER in hook.read_text()
    assert os.access(hook, os.X_OK)

    uninstall(repo)

    assert _snapshot(hook) == before
    assert not kept.exists()


def test_install_twice_is_idempotent(repo):
    hook = repo / ".git" / "hooks" / "pre-commit"
    _write_hook(hook, USER_HOOK, 0o755)

    install(repo, command="/bin/true")
    first = (hook.read_bytes(), hook.with_name("pre-commit.plt-agent-orig").read_bytes())
    second_status = install(repo, command="/bin/true")
    second = (hook.read_bytes(), hook.with_name("pre-commit.plt-agent-orig").read_bytes())

    assert second_status.action == "updated"
    assert first == second
    assert sorted(
        p.name
        for p in hook.parent.iterdir()
        if p.name.startswith("pre-commit") and not p.name.endswith(".sample")
    ) == ["pre-commit", "pre-commit.plt-agent-orig"]
    uninstall(repo)
    assert hook.read_bytes() == USER_HOOK


def test_install_without_a_previous_hook_and_uninstall_removes_it(repo):
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.unlink(missing_ok=True)

    status = install(repo, command="/bin/true")
    assert status.kept is None
    assert hook.exists()

    uninstall(repo)
    assert not hook.exists()


def test_core_hooks_path_is_honoured(repo):
    git(repo, "config", "core.hooksPath", ".githooks")

    (repo / "sub").mkdir()

    status = install(repo / "sub", command="/bin/true")

    assert status.hook == (repo / ".githooks" / "pre-commit").resolve()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_refuses_outside_a_git_repository(tmp_path, hermetic_env):
    plain = tmp_path / "plain"
    plain.mkdir()

    with pytest.raises(NotARepository, match="not inside a git work tree"):
        install(plain)
    result = runner.invoke(app, ["hook", "install", str(plain)])
    assert result.exit_code == 2


def test_uninstall_refuses_a_hook_that_is_not_ours(repo):
    hook = repo / ".git" / "hooks" / "pre-commit"
    _write_hook(hook, USER_HOOK, 0o755)

    with pytest.raises(PltAgentError, match="not installed"):
        uninstall(repo)
    assert hook.read_bytes() == USER_HOOK


def test_install_will_not_overwrite_a_kept_hook(repo):
    hooks = repo / ".git" / "hooks"
    _write_hook(hooks / "pre-commit", b"#!/bin/sh\nexit 0\n", 0o755)
    _write_hook(hooks / "pre-commit.plt-agent-orig", USER_HOOK, 0o755)

    with pytest.raises(PltAgentError, match="already exists"):
        install(repo, command="/bin/true")
    assert (hooks / "pre-commit.plt-agent-orig").read_bytes() == USER_HOOK


def test_installed_script_runs_the_kept_hook_first_and_stops_on_its_failure(repo):
    hooks = repo / ".git" / "hooks"
    _write_hook(hooks / "pre-commit", b'#!/bin/sh\necho kept >> "$GIT_DIR/ran"\nexit 3\n', 0o755)
    install(repo, command=f"/bin/sh {repo / 'fake-plt-agent'}")
    (repo / "fake-plt-agent").write_text('echo "plt-agent $*" >> "$GIT_DIR/ran"\n')

    env = {**os.environ, "GIT_DIR": str(repo / ".git")}
    failed = subprocess.run([str(hooks / "pre-commit")], cwd=repo, env=env)
    (hooks / "pre-commit.plt-agent-orig").write_bytes(b'#!/bin/sh\necho kept >> "$GIT_DIR/ran"\nexit 0\n')
    passed = subprocess.run([str(hooks / "pre-commit")], cwd=repo, env=env)

    assert (failed.returncode, passed.returncode) == (3, 0)
    assert (repo / ".git" / "ran").read_text().splitlines() == ["kept", "kept", "plt-agent hook run"]


def test_cli_install_and_uninstall_report_what_they_did(repo):
    hook = repo / ".git" / "hooks" / "pre-commit"
    _write_hook(hook, USER_HOOK, 0o700)

    installed = runner.invoke(app, ["hook", "install", str(repo)])
    removed = runner.invoke(app, ["hook", "uninstall", str(repo)])

    assert installed.exit_code == 0, installed.output
    assert "pre-commit.plt-agent-orig" in installed.output
    assert removed.exit_code == 0
    assert "previous hook restored" in removed.output
    assert _snapshot(hook) == (USER_HOOK, 0o700)
