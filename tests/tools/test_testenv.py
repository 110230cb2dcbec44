"""Which command runs a project's tests (tools.testenv), and `plt-agent fix` using and naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.testenv import choose_test_command

PLT_AGENT = Path(sys.executable).with_name("plt-agent")
ROOT = Path(__file__).resolve().parents[2]
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]


def _python_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    return root


def _venv(root: Path, name: str, *, pytest_installed: bool, python: str = "") -> Path:
    bin_dir = root / name / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(python or "#!/bin/sh\nexit 0\n")
    (bin_dir / "python").chmod(0o755)
    if pytest_installed:
        (bin_dir / "pytest").write_text("")
    return bin_dir / "python"


def _tool_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *names: str) -> None:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")


def test_the_projects_venv_with_pytest_comes_first(tmp_path, monkeypatch):
    root = _python_project(tmp_path / "p")
    python = _venv(root, ".venv", pytest_installed=True)
    (root / "poetry.lock").write_text("")
    _tool_on_path(monkeypatch, tmp_path, "poetry")

    chosen = choose_test_command(root)

    assert chosen.command == f"{python} -m pytest"
    assert chosen.reason == "the project's virtualenv .venv/"
    assert chosen.warning == ""


def test_venv_is_tried_after_dot_venv(tmp_path, monkeypatch):
    root = _python_project(tmp_path / "p")
    _venv(root, ".venv", pytest_installed=False)
    python = _venv(root, "venv", pytest_installed=True)
    _tool_on_path(monkeypatch, tmp_path)

    chosen = choose_test_command(root)

    assert chosen.command.startswith(str(python))
    assert "venv/" in chosen.reason


@pytest.mark.parametrize(
    ("tool", "marker", "command"),
    [
        ("uv", ("uv.lock", ""), "uv run python -m pytest"),
        ("poetry", ("pyproject.toml", "[tool.poetry]\nname = 'x'\n"), "poetry run python -m pytest"),
        ("hatch", ("hatch.toml", ""), "hatch test"),
        ("tox", ("tox.ini", "[tox]\n"), "tox -e py"),
    ],
)
def test_an_environment_manager_when_configured_and_installed(tmp_path, monkeypatch, tool, marker, command):
    root = _python_project(tmp_path / "p")
    (root / marker[0]).write_text(marker[1])
    _tool_on_path(monkeypatch, tmp_path, tool)

    chosen = choose_test_command(root)

    assert chosen.command == command
    assert tool in chosen.reason
    assert chosen.warning == ""


def test_fallback_to_our_python_warns_and_says_why(tmp_path, monkeypatch):
    bare = _python_project(tmp_path / "bare")
    no_pytest = _python_project(tmp_path / "no_pytest")
    _venv(no_pytest, ".venv", pytest_installed=False)
    no_tool = _python_project(tmp_path / "no_tool")
    (no_tool / "poetry.lock").write_text("")
    _tool_on_path(monkeypatch, tmp_path)

    chosen = {p.name: choose_test_command(p) for p in (bare, no_pytest, no_tool)}

    for c in chosen.values():
        assert c.command.startswith(sys.executable)
        assert "plt-agent's own Python" in c.warning
        assert "--test-cmd" in c.warning
    assert chosen["bare"].warning.startswith("no project environment found")
    assert chosen["no_pytest"].warning.startswith("pytest is not installed in .venv/")
    assert chosen["no_tool"].warning.startswith("poetry is configured but not installed")


def test_a_configured_command_wins_and_says_where_it_came_from(tmp_path):
    root = _python_project(tmp_path / "p")
    _venv(root, ".venv", pytest_installed=True)

    chosen = choose_test_command(root, "make check", "[tool.plt-agent] test_cmd")

    assert chosen.command == "make check"
    assert chosen.reason == "configured ([tool.plt-agent] test_cmd)"


def test_other_ecosystems(tmp_path):
    npm, go, make = tmp_path / "npm", tmp_path / "go", tmp_path / "make"
    for d in (npm, go, make):
        d.mkdir()
    (npm / "package.json").write_text('{"scripts": {"test": "jest"}}')
    (go / "go.mod").write_text("module x\n")
    (make / "Makefile").write_text("test:\n\ttrue\n")

    assert choose_test_command(npm).command == "npm test --silent"
    assert choose_test_command(go).command == "go test ./..."
    assert choose_test_command(make).command == "make test"
    assert choose_test_command(tmp_path / "npm" / "nothing-here") is None


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PLT_AGENT_", "GIT_")) and k != "SKIP"}
    return {**keep, "HOME": str(home), "PLT_AGENT_HOME": str(home / "store"), "PYTHONPATH": str(ROOT)}


def _git_repo(root: Path) -> Path:
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        subprocess.run(["git", *GIT_ID, *args], cwd=root, check=True, capture_output=True)
    return root


@pytest.mark.skipif(not PLT_AGENT.exists(), reason=f"{PLT_AGENT} is not installed")
def test_fix_runs_the_tests_in_the_projects_venv_and_says_so_before_the_model(tmp_path, cli_env):
    root = _python_project(tmp_path / "repo")
    used = tmp_path / "venv-used"
    # the project's interpreter: records that it ran, then is this Python (which has pytest)
    _venv(
        root,
        ".venv",
        pytest_installed=True,
        python=f'#!/bin/sh\necho x >> {used}\nexec {sys.executable} "$@"\n',
    )
    _git_repo(root)
    (root / ".git" / "info" / "exclude").write_text(".venv/\n")
    script = tmp_path / "r.jsonl"
    script.write_text('{"content": "I cannot tell."}\n')

    proc = subprocess.run(
        [str(PLT_AGENT), "fix", ".", "--model", f"scripted:{script}", "--max-steps", "1"],
        cwd=root, env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert proc.returncode == 1, proc.stderr
    assert used.exists()  # the tests ran with the project's interpreter
    lines = proc.stderr.splitlines()
    tests_line = next(i for i, line in enumerate(lines) if line.startswith("tests: "))
    failing_line = next(i for i, line in enumerate(lines) if "1 test failing: test_calc.py::test_add" in line)
    first_step = next(i for i, line in enumerate(lines) if line.startswith("step 1/"))
    assert f"{root}/.venv/bin/python -m pytest" in lines[tests_line]
    assert "(the project's virtualenv .venv/)" in lines[tests_line]
    assert tests_line < failing_line < first_step


@pytest.mark.skipif(not PLT_AGENT.exists(), reason=f"{PLT_AGENT} is not installed")
def test_fix_refuses_tests_that_crash_at_start_up(tmp_path, cli_env):
    root = _python_project(tmp_path / "repo")
    (root / "conftest.py").write_text("import not_installed_anywhere\n")
    _git_repo(root)
    script = tmp_path / "r.jsonl"
    script.write_text('{"content": "unused"}\n')

    test_cmd = f"{sys.executable} -m pytest"
    proc = subprocess.run(
        [str(PLT_AGENT), "fix", ".", "--model", f"scripted:{script}", "--test-cmd", test_cmd],
        cwd=root, env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert proc.returncode == 2, proc.stderr
    assert "did not start the tests" in proc.stderr
    assert "step 1/" not in proc.stderr  # the model was never asked
